"""Checkpoints anchored outside the database, against the real FerretDB and real GOST signatures:
cutting the log back to an earlier checkpoint is invisible in the database alone, and shows
against the anchor file; forged anchor lines are named, never taken as evidence."""

from __future__ import annotations

import base64
import json

import pytest

from svyaz.compliance.audit.checkpoint import checkpoint_payload
from svyaz.compliance.audit.checkpointer import Checkpointer
from svyaz.compliance.audit.keys import ANCHORS_FILE
from svyaz.compliance.audit.store import MongoAuditStore
from svyaz.gost.signing import generate_keypair
from tests.integration.compliance.conftest import (
    audit_event,
    populate,
    run_audit_cli,
    store_options,
    verify_cli,
)


@pytest.fixture
def anchors(keypair):
    return keypair.private_key_path.parent / ANCHORS_FILE


@pytest.fixture
def log(audit_db, keypair):
    populate(audit_db, keypair, 10, every=5)  # checkpoints (and anchors) at 5 and 10
    return audit_db


def cut_back(log, *, keep: int, checkpoints_from: int) -> None:
    """The attacker with database access: drop the tail and the checkpoints that would give it away."""
    log.entries.delete_many({"seq": {"$gt": keep}})
    log.checkpoints.delete_many({"seq": {"$gte": checkpoints_from}})


def append_line(anchors, text: str) -> None:
    with anchors.open("a", encoding="utf-8") as file:
        file.write(text + "\n")


def test_every_checkpoint_is_anchored_as_stored(log, anchors):
    lines = [json.loads(line) for line in anchors.read_text().splitlines()]

    assert lines == list(log.checkpoints.find({}, {"_id": False}).sort("seq", 1))
    assert [line["seq"] for line in lines] == [5, 10]


def test_an_intact_log_matches_its_anchors(log, keypair, anchors):
    result = verify_cli(log, keypair, "--anchors", str(anchors))

    assert result.code == 0, result.stderr
    assert result.stdout.strip() == (
        "ok: 10 entries, last checkpoint at seq 10; all 2 anchored checkpoints are in the database"
    )


def test_a_log_cut_back_to_an_earlier_checkpoint_passes_without_anchors(log, keypair):
    # The limit of the database alone, kept honest: what is left is a consistent, signed log.
    cut_back(log, keep=7, checkpoints_from=6)

    result = verify_cli(log, keypair)

    assert result.code == 0
    assert result.stdout.strip() == (
        "ok: 7 entries, last checkpoint at seq 5 (2 later entries not yet covered by a signature)"
    )


def test_a_log_cut_back_to_an_earlier_checkpoint_is_caught_by_its_anchors(log, keypair, anchors):
    cut_back(log, keep=7, checkpoints_from=6)

    text = verify_cli(log, keypair, "--anchors", str(anchors))
    result = verify_cli(log, keypair, "--anchors", str(anchors), "--json")

    assert text.code == 1
    assert text.stdout.startswith(
        f"tampered: truncated at seq 8: the chain ends at seq 7, but the checkpoint at seq 10 "
        f"anchored in {anchors} line 2 (signed at "
    )
    assert (result.code, result.json["kind"], result.json["position"]) == (1, "truncated", 8)
    assert "entries 8..10 were removed" in result.json["explanation"]
    assert (result.json["ok"], result.json["last_checkpoint"], result.json["anchors"]) == (False, 5, 2)


def test_the_default_anchor_file_is_the_key_dirs(log, keypair, anchors):
    cut_back(log, keep=7, checkpoints_from=6)
    key_dir = keypair.private_key_path.parent

    result = run_audit_cli("verify", "--json", "--key-dir", str(key_dir), *store_options(log))
    without = run_audit_cli("verify", "--json", "--key-dir", str(key_dir), "--no-anchors", *store_options(log))

    assert (result.code, result.json["kind"], result.json["position"]) == (1, "truncated", 8)
    assert (without.code, without.json["anchors"]) == (0, None)


def test_a_deleted_checkpoint_alone_is_named(log, keypair, anchors):
    log.checkpoints.delete_one({"seq": 5})

    result = verify_cli(log, keypair, "--anchors", str(anchors), "--json")

    assert (result.code, result.json["kind"], result.json["position"]) == (1, "truncated", 5)
    assert "is missing from the database" in result.json["explanation"]


def test_a_cut_back_log_grown_and_signed_again_is_caught(log, keypair, anchors):
    # The node keeps working after the cut: new entries 8.. and a new genuine checkpoint at 10.
    cut_back(log, keep=7, checkpoints_from=6)
    store = MongoAuditStore.connect(log.url, log.prefix, timeout_s=5)
    try:
        for n in range(100, 103):
            store.append(audit_event(n))
        assert Checkpointer(store, keypair).checkpoint_now().seq == 10
    finally:
        store.close()

    assert verify_cli(log, keypair).code == 0  # the database alone is consistent again
    result = verify_cli(log, keypair, "--anchors", str(anchors), "--json")
    assert (result.code, result.json["kind"], result.json["position"]) == (1, "rewritten", 10)
    assert f"anchored in {anchors} line 2" in result.json["explanation"]


def test_a_forged_anchor_line_is_reported_not_taken_for_truncation(log, keypair, anchors):
    genuine = json.loads(anchors.read_text().splitlines()[-1])
    append_line(anchors, json.dumps({**genuine, "seq": 20}))  # a real signature over other bytes

    result = verify_cli(log, keypair, "--anchors", str(anchors), "--json")

    assert (result.code, result.json["kind"], result.json["position"]) == (1, "forged_anchor", 20)
    assert result.json["explanation"] == (
        f"{anchors} line 3 (seq 20) is not genuine: its signature does not verify with key {keypair.key_id}"
    )


def test_an_anchor_signed_by_an_untrusted_key_is_forged(log, keypair, anchors, tmp_path):
    other = generate_keypair(tmp_path / "other")
    entry = log.entries.find_one({"seq": 10})
    time = "2026-11-28T10:20:00.000000Z"
    signature = other.sign(checkpoint_payload(12, entry["hash"], time, other.key_id))
    append_line(anchors, json.dumps({
        "seq": 12, "entry_hash": entry["hash"], "time": time, "key_id": other.key_id,
        "signature": base64.b64encode(signature).decode(),
    }))

    result = verify_cli(log, keypair, "--anchors", str(anchors), "--json")

    assert (result.code, result.json["kind"], result.json["position"]) == (1, "forged_anchor", 12)
    assert f"it names key {other.key_id}, which is not a trusted key" in result.json["explanation"]


def test_a_damaged_anchor_line_is_reported_with_its_number(log, keypair, anchors):
    append_line(anchors, '{"seq": 15, "entry_hash": "ab')

    result = verify_cli(log, keypair, "--anchors", str(anchors))

    assert result.code == 1
    assert result.stdout.strip() == (
        f"tampered: forged_anchor: {anchors} line 3 is not a checkpoint: "
        "not JSON (a damaged or partly written line?)"
    )


def test_a_torn_last_line_does_not_swallow_the_next_anchor(log, keypair, anchors):
    anchors.write_bytes(anchors.read_bytes() + b'{"seq": 1')  # a crash in the middle of a write
    store = MongoAuditStore.connect(log.url, log.prefix, timeout_s=5)
    try:
        store.append(audit_event(11))
        Checkpointer(store, keypair).checkpoint_now()
    finally:
        store.close()

    lines = anchors.read_text().splitlines()
    assert lines[2] == '{"seq": 1' and json.loads(lines[3])["seq"] == 11


def test_a_missing_anchor_file_named_on_the_command_line_is_an_error(log, keypair, tmp_path):
    result = verify_cli(log, keypair, "--anchors", str(tmp_path / "nowhere.jsonl"))

    assert result.code == 1
    assert result.stdout == ""
    assert f"error: cannot read the anchor file {tmp_path / 'nowhere.jsonl'}" in result.stderr
    assert "fix:" in result.stderr
