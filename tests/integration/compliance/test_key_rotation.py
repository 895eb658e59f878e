"""`svyaz audit keygen --rotate` against the real FerretDB and real GOST keys: earlier checkpoints
stay verifiable, the old private key is gone, the rotation is audited, and a running audit log
signs with the new key without a restart."""

from __future__ import annotations

import os

import pytest
import trio

from svyaz.compliance.audit.checkpoint import CheckpointPolicy
from svyaz.compliance.audit.keys import ANCHORS_FILE, RETIRED_DIR
from svyaz.compliance.audit.log import open_audit_log
from svyaz.compliance.audit.signer import KeyDir, KeyReplaced
from svyaz.compliance.audit.store import MongoAuditStore
from svyaz.gost.signing import PRIVATE_KEY_FILE, PUBLIC_KEY_FILE, load_or_generate_keypair
from tests.integration.compliance.conftest import (
    audit_event,
    free_port,
    populate,
    run_audit_cli,
    store_options,
)


@pytest.fixture
def key_dir(keypair):
    return keypair.private_key_path.parent


@pytest.fixture
def log(audit_db, keypair):
    populate(audit_db, keypair, 10, every=5)  # checkpoints at 5 and 10 with the first key
    return audit_db


def rotate(audit_db, key_dir, *extra: str):
    result = run_audit_cli("keygen", "--rotate", "--json", "--key-dir", str(key_dir), *store_options(audit_db), *extra)
    assert result.code == 0, result.stderr
    return result


def checkpoint(audit_db, key_dir):
    result = run_audit_cli("checkpoint", "--json", "--key-dir", str(key_dir), *store_options(audit_db))
    assert result.code == 0, result.stderr
    return result


def verify(audit_db, key_dir, *extra: str):
    return run_audit_cli("verify", "--json", "--key-dir", str(key_dir), *store_options(audit_db), *extra)


def append(audit_db, first: int, count: int) -> None:
    store = MongoAuditStore.connect(audit_db.url, audit_db.prefix, timeout_s=5)
    try:
        for n in range(first, first + count):
            store.append(audit_event(n))
    finally:
        store.close()


def test_checkpoints_under_the_old_and_the_new_key_verify(log, keypair, key_dir):
    rotated = rotate(log, key_dir)
    append(log, 11, 3)
    signed = checkpoint(log, key_dir)

    new_key = rotated.json["key_id"]
    assert rotated.json["old_key_id"] == keypair.key_id != new_key
    assert signed.json == {"seq": 15, "key_id": new_key}  # 13 entries + the rotation's two
    keys = {c["seq"]: c["key_id"] for c in log.checkpoints.find()}
    assert keys == {5: keypair.key_id, 10: keypair.key_id, 15: new_key}

    result = verify(log, key_dir)
    assert result.code == 0, result.stdout + result.stderr
    assert result.json["last_checkpoint"] == 15
    assert result.json["anchors"] == 3  # the key dir's anchors.jsonl, under both keys


def test_the_rotation_is_recorded_in_the_audit_log(log, keypair, key_dir):
    new_key = rotate(log, key_dir).json["key_id"]

    entries = list(log.entries.find({"action": "audit.key.rotate"}).sort("seq", 1))
    assert [(e["seq"], e["outcome"]) for e in entries] == [(11, "allowed"), (12, "success")]
    assert entries[0]["detail"] == {
        "old_key_id": keypair.key_id, "new_key_id": new_key, "old_private_key": "destroyed",
    }
    assert entries[0]["role"] == "operator" and entries[0]["actor"].startswith("operator:")
    assert entries[0]["request_id"] == entries[1]["request_id"]


def test_verify_names_the_unknown_key_once_the_retired_public_key_is_gone(log, keypair, key_dir):
    rotate(log, key_dir)
    checkpoint(log, key_dir)
    (key_dir / RETIRED_DIR / f"{keypair.key_id}.pub.pem").unlink()

    result = verify(log, key_dir)

    assert (result.code, result.json["kind"], result.json["position"]) == (1, "forged_checkpoint", 5)
    assert f"it names key {keypair.key_id}, which is not a trusted key" in result.json["explanation"]


def test_the_old_private_key_is_overwritten_and_removed(log, keypair, key_dir, tmp_path):
    old_pem = keypair.private_key_path.read_bytes()
    os.link(keypair.private_key_path, tmp_path / "second-name")  # to look at the old file afterwards

    rotated = rotate(log, key_dir)

    assert rotated.json["retired_private_key"] is None
    leftover = (tmp_path / "second-name").read_bytes()
    assert len(leftover) == len(old_pem) and b"PRIVATE KEY" not in leftover  # random bytes now
    assert (key_dir / PRIVATE_KEY_FILE).read_bytes() != old_pem
    assert (key_dir / PRIVATE_KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in key_dir.iterdir()) == [
        ANCHORS_FILE, RETIRED_DIR, PRIVATE_KEY_FILE, PUBLIC_KEY_FILE,
    ]
    assert [p.name for p in (key_dir / RETIRED_DIR).iterdir()] == [f"{keypair.key_id}.pub.pem"]
    assert (key_dir / RETIRED_DIR / f"{keypair.key_id}.pub.pem").read_bytes() == keypair.public_pem


def test_the_old_private_key_is_kept_only_when_asked(log, keypair, key_dir):
    old_pem = keypair.private_key_path.read_bytes()

    rotated = rotate(log, key_dir, "--keep-old-private-key")

    kept = key_dir / RETIRED_DIR / f"{keypair.key_id}.pem"
    assert rotated.json["retired_private_key"] == str(kept)
    assert kept.read_bytes() == old_pem
    assert kept.stat().st_mode & 0o777 == 0o600
    assert log.entries.find_one({"action": "audit.key.rotate"})["detail"]["old_private_key"] == "kept"


def test_no_rotation_that_cannot_be_audited(keypair, key_dir, test_id):
    result = run_audit_cli(
        "keygen", "--rotate", "--key-dir", str(key_dir),
        "--store-url", f"mongodb://127.0.0.1:{free_port()}/", "--database-prefix", test_id,
    )

    assert result.code == 1
    assert "error: cannot read the audit log" in result.stderr
    assert load_or_generate_keypair(key_dir).key_id == keypair.key_id
    assert not (key_dir / RETIRED_DIR).exists()


def test_the_text_output_says_what_happened(log, keypair, key_dir):
    result = run_audit_cli("keygen", "--rotate", "--key-dir", str(key_dir), *store_options(log))

    assert result.code == 0, result.stderr
    assert result.stdout.startswith(f"rotated audit signing key {keypair.key_id} -> ")
    assert "old private:    destroyed" in result.stdout


def test_a_signature_made_across_a_rotation_is_refused_not_mislabelled(log, keypair, key_dir):
    # The old key is still in memory, but the rotation destroyed its file: it must sign nothing more.
    pinned = KeyDir(key_dir).current()
    new_key = rotate(log, key_dir).json["key_id"]

    with pytest.raises(KeyReplaced, match="rotated while signing"):
        pinned.sign(b"payload")
    assert KeyDir(key_dir).current().key_id == new_key


async def test_a_running_audit_log_signs_with_the_rotated_key(audit_db, tmp_path):
    key_dir = tmp_path / "node-audit"
    signer = load_or_generate_keypair(key_dir)  # as the node's composition loads it, once
    policy = CheckpointPolicy(every_entries=5, every_seconds=None)
    with trio.fail_after(60):
        async with open_audit_log(audit_db.url, audit_db.prefix, signer=signer, policy=policy) as log:
            for n in range(1, 6):
                await log.record(audit_event(n))  # checkpoint at 5 by count, old key
            rotated = await trio.to_thread.run_sync(rotate, audit_db, key_dir)
            for n in range(8, 12):  # seqs 6 and 7 are the rotation's, these are 8..11: 10 by count
                await log.record(audit_event(n))
            by_count = audit_db.checkpoints.find_one({"seq": 10})
            on_demand = await log.checkpoint()

    new_key = rotated.json["key_id"]
    assert rotated.json["old_key_id"] == signer.key_id
    assert by_count["key_id"] == new_key
    assert (on_demand.seq, on_demand.key_id) == (11, new_key)
    result = verify(audit_db, key_dir)
    assert (result.code, result.json["last_checkpoint"], result.json["anchors"]) == (0, 11, 3)
