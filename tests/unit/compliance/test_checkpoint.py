"""Checkpoint payloads, their stored form, and when the policy asks for one."""

from __future__ import annotations

import pytest

from svyaz.compliance.audit.checkpoint import (
    Checkpoint,
    CheckpointPolicy,
    MalformedCheckpoint,
    checkpoint_payload,
    parse_checkpoint,
)

HASH = "ab" * 32


def test_the_signed_payload_is_the_canonical_form_of_four_fields():
    assert checkpoint_payload(1000, HASH, "2026-11-28T10:15:30.123456Z", "00112233aabbccdd") == (
        '{"entry_hash":"' + HASH + '","key_id":"00112233aabbccdd","seq":1000,'
        '"time":"2026-11-28T10:15:30.123456Z"}'
    ).encode()


def test_a_checkpoint_reads_back_from_its_stored_form_with_a_base64_signature():
    checkpoint = Checkpoint(5, HASH, "2026-11-28T10:15:30.123456Z", "00112233aabbccdd", bytes(range(64)))
    document = checkpoint.to_document()

    assert document["signature"].endswith("==")
    assert parse_checkpoint({"_id": "x", **document}) == checkpoint


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"signature": "not base64!"}, "base64"),
        ({"key_id": "XYZ"}, "key_id"),
        ({"entry_hash": "00"}, "entry_hash"),
        ({"seq": "5"}, "positive integer"),
        ({"note": "x"}, "'note'"),
    ],
)
def test_a_malformed_checkpoint_is_named_as_such(change, message):
    document = Checkpoint(5, HASH, "t", "00112233aabbccdd", b"s" * 64).to_document()

    with pytest.raises(MalformedCheckpoint, match=message):
        parse_checkpoint({**document, **change})


def test_the_policy_checkpoints_at_multiples_of_every_entries():
    policy = CheckpointPolicy(every_entries=100, every_seconds=None)

    assert [seq for seq in range(1, 301) if policy.due_after_append(seq)] == [100, 200, 300]
    assert not CheckpointPolicy(every_entries=None).due_after_append(100)


@pytest.mark.parametrize("options", [{"every_entries": 0}, {"every_entries": True}, {"every_seconds": 0},
                                     {"every_seconds": float("nan")}])
def test_the_policy_refuses_meaningless_intervals(options):
    with pytest.raises(ValueError):
        CheckpointPolicy(**options)
