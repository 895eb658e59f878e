"""`svyaz audit verify` as its own process against the real FerretDB, after tampering with the
database directly through pymongo, the way someone with database access would.

Every test starts from 10 entries written by the real store, with GOST-signed checkpoints at 5 and 10.
"""

from __future__ import annotations

import base64

import pytest

from svyaz.compliance.audit.chain import entry_hash, next_entry, parse_entry
from tests.integration.compliance.conftest import (
    audit_event,
    populate,
    run_audit_cli,
    verify_cli,
)


@pytest.fixture
def log(audit_db, keypair):
    populate(audit_db, keypair, 10, every=5)
    return audit_db


def rehash_from(entries, seq: int) -> None:
    """The chain-aware attacker: recompute every link and hash from `seq` on, in place."""
    previous = entries.find_one({"seq": seq - 1})["hash"] if seq > 1 else "0" * 64
    for document in list(entries.find({"seq": {"$gte": seq}}).sort("seq", 1)):
        entry = parse_entry({**document, "prev_hash": previous})
        previous = entry_hash(entry.seq, entry.time, previous, entry.event)
        changes = {"prev_hash": entry.prev_hash, "hash": previous}
        entries.update_one({"_id": document["_id"]}, {"$set": changes})


@pytest.mark.parametrize("batch", ["500", "3"])
def test_an_intact_log_verifies(log, keypair, batch):
    result = verify_cli(log, keypair, "--batch", batch)

    assert result.code == 0, result.stderr
    assert result.stdout.strip() == "ok: 10 entries, last checkpoint at seq 10"


def test_json_output_when_intact(log, keypair):
    result = verify_cli(log, keypair, "--json")

    assert result.code == 0
    assert result.json == {
        "ok": True, "entries": 10, "last_seq": 10, "last_checkpoint": 10, "anchors": None,
        "kind": None, "position": None, "explanation": None,
    }


# 1. Edited


def test_an_edited_entry(log, keypair):
    log.entries.update_one({"seq": 4}, {"$set": {"outcome": "allowed", "role": "security_officer"}})

    result = verify_cli(log, keypair)

    assert result.code == 1
    assert result.stdout.strip() == (
        "tampered: edited at seq 4: entry 4's fields do not hash to its stored hash"
    )


def test_an_edited_entry_with_all_later_hashes_recomputed(log, keypair):
    log.entries.update_one({"seq": 7}, {"$set": {"outcome": "failure"}})
    rehash_from(log.entries, 7)

    result = verify_cli(log, keypair, "--json")

    assert (result.code, result.json["kind"], result.json["position"]) == (1, "rewritten", 10)
    assert result.json["last_checkpoint"] == 5


# 2. Deleted


@pytest.mark.parametrize("batch", ["500", "2"])
def test_a_deleted_entry(log, keypair, batch):
    log.entries.delete_many({"seq": {"$in": [4, 5, 6]}})

    result = verify_cli(log, keypair, "--json", "--batch", batch)

    assert (result.code, result.json["kind"], result.json["position"]) == (1, "deleted", 4)
    assert result.json["explanation"] == "entries 4..6 are missing: after seq 3 comes seq 7"


def test_a_deleted_entry_hidden_by_renumbering(log, keypair):
    log.entries.delete_one({"seq": 4})
    for seq in range(5, 11):  # upwards, so the unique index never objects
        log.entries.update_one({"seq": seq}, {"$set": {"seq": seq - 1}})

    result = verify_cli(log, keypair, "--json")

    assert (result.json["kind"], result.json["position"]) == ("deleted", 4)


# 3. Inserted


def test_an_inserted_entry_with_the_unique_index_dropped(log, keypair):
    log.entries.drop_index("seq_unique")
    forged = log.entries.find_one({"seq": 5}, {"_id": False})
    log.entries.insert_one({**forged, "actor": "@mallory:ru"})

    result = verify_cli(log, keypair, "--json")

    assert (result.code, result.json["kind"], result.json["position"]) == (1, "inserted", 5)
    assert result.json["explanation"] == "2 entries claim seq 5; the chain has one"


def test_an_inserted_entry_with_later_entries_renumbered(log, keypair):
    # Keeps the index: shift 5..10 up (from the top down), then write a correctly hashed entry 5.
    for seq in range(10, 4, -1):
        log.entries.update_one({"seq": seq}, {"$set": {"seq": seq + 1}})
    entry_4 = parse_entry(log.entries.find_one({"seq": 4}))
    forged = next_entry(entry_4, audit_event(99, actor="@mallory:ru"), entry_4.time)
    log.entries.insert_one(forged.to_document())

    result = verify_cli(log, keypair, "--json")

    assert (result.json["kind"], result.json["position"]) == ("inserted", 5)


def test_an_inserted_document_without_a_numeric_seq(log, keypair):
    log.entries.insert_one({**log.entries.find_one({"seq": 3}, {"_id": False}), "seq": "3a"})

    result = verify_cli(log, keypair, "--json")

    assert (result.json["kind"], result.json["position"]) == ("inserted", None)
    assert "seq '3a'" in result.json["explanation"]


# 4. Reordered


def test_reordered_entries(log, keypair):
    # Swap the positions of entries 3 and 7 (via a free seq, because of the unique index).
    log.entries.update_one({"seq": 3}, {"$set": {"seq": 1000}})
    log.entries.update_one({"seq": 7}, {"$set": {"seq": 3}})
    log.entries.update_one({"seq": 1000}, {"$set": {"seq": 7}})

    result = verify_cli(log, keypair)

    assert result.code == 1
    assert result.stdout.strip() == (
        "tampered: reordered at seq 3: entry 3 was written after the entry now at seq 6: entries were moved"
    )


# 5. Truncated


def test_truncation(log, keypair):
    log.entries.delete_many({"seq": {"$gte": 9}})

    result = verify_cli(log, keypair, "--json")

    assert (result.code, result.json["kind"], result.json["position"]) == (1, "truncated", 9)
    assert "entries 9..10 were removed" in result.json["explanation"]


def test_truncation_hidden_behind_a_forged_checkpoint(log, keypair):
    log.entries.delete_many({"seq": {"$gte": 9}})
    genuine = log.checkpoints.find_one_and_delete({"seq": 10})
    entry_8 = log.entries.find_one({"seq": 8})
    log.checkpoints.insert_one({
        "seq": 8, "entry_hash": entry_8["hash"], "time": genuine["time"], "key_id": genuine["key_id"],
        "signature": genuine["signature"],  # a real signature, but over other bytes
    })

    result = verify_cli(log, keypair, "--json")

    assert (result.json["kind"], result.json["position"]) == ("forged_checkpoint", 8)
    assert "does not verify" in result.json["explanation"]


def test_a_checkpoint_signed_by_another_key(log, keypair, tmp_path):
    from svyaz.compliance.audit.checkpoint import checkpoint_payload
    from svyaz.gost.signing import generate_keypair

    other = generate_keypair(tmp_path / "other")
    checkpoint = log.checkpoints.find_one({"seq": 5})
    payload = checkpoint_payload(5, checkpoint["entry_hash"], checkpoint["time"], other.key_id)
    log.checkpoints.update_one({"seq": 5}, {"$set": {
        "key_id": other.key_id, "signature": base64.b64encode(other.sign(payload)).decode(),
    }})

    result = verify_cli(log, keypair, "--json")

    assert (result.json["kind"], result.json["position"]) == ("forged_checkpoint", 5)
    assert "not a trusted key" in result.json["explanation"]


# Errors a person can act on


def test_an_unreachable_store_is_an_error_not_a_verdict(keypair):
    result = run_audit_cli("verify", "--store-url", "mongodb://127.0.0.1:1/", "--database-prefix", "nowhere")

    assert result.code == 1
    assert result.stdout == ""
    assert "error: cannot read the audit log in nowhere_compliance" in result.stderr
    assert "fix:" in result.stderr
