"""Entry hashes and links: Streebog-256 over the canonical form, checked against an independent
Streebog (gostcrypto) and against a fixed vector that docs/audit.md shows auditors."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import gostcrypto
import pytest

from svyaz.compliance.audit.canonical import canonical_json
from svyaz.compliance.audit.chain import (
    GENESIS_HASH,
    MalformedEntry,
    entry_hash,
    format_time,
    hashed_fields,
    next_entry,
    parse_entry,
)
from svyaz.compliance.audit.event import AuditEvent
from tests.unit.compliance.chains import event

# The worked example of docs/audit.md: an auditor must get exactly these bytes and this digest.
EXAMPLE_EVENT = AuditEvent(
    actor="@alice:ru", role="security_officer", action="role.grant", target="@bob:ru", region="ru",
    request_id="req-7f3a", outcome="allowed", detail={"role": "auditor"},
)
EXAMPLE_TIME = "2026-11-28T10:15:30.123456Z"
EXAMPLE_CANONICAL = (
    b'{"action":"role.grant","actor":"@alice:ru","detail":{"role":"auditor"},"outcome":"allowed",'
    b'"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","region":"ru",'
    b'"request_id":"req-7f3a","role":"security_officer","seq":1,"target":"@bob:ru",'
    b'"time":"2026-11-28T10:15:30.123456Z"}'
)
EXAMPLE_HASH = "64d84c3c30810a51192b44efbe541ab9f3d91f5d512ca44e810e645683ae9b5c"


def test_the_documented_example_has_the_documented_bytes_and_hash():
    fields = hashed_fields(1, EXAMPLE_TIME, GENESIS_HASH, EXAMPLE_EVENT)

    assert canonical_json(fields) == EXAMPLE_CANONICAL
    assert entry_hash(1, EXAMPLE_TIME, GENESIS_HASH, EXAMPLE_EVENT) == EXAMPLE_HASH


def test_the_entry_hash_is_streebog256_of_the_canonical_form_by_an_independent_implementation():
    entry = next_entry(None, event(1), EXAMPLE_TIME)
    canonical = canonical_json(hashed_fields(entry.seq, entry.time, entry.prev_hash, entry.event))

    assert entry.hash == gostcrypto.gosthash.new("streebog256", data=canonical).hexdigest()


def test_the_chain_starts_at_seq_1_after_64_zeros_and_each_entry_links_to_the_one_before():
    first = next_entry(None, event(1), EXAMPLE_TIME)
    second = next_entry(first, event(2), EXAMPLE_TIME)

    assert (first.seq, first.prev_hash) == (1, GENESIS_HASH)
    assert (second.seq, second.prev_hash) == (2, first.hash)
    assert second.hash != first.hash


@pytest.mark.parametrize(
    "change",
    [
        {"seq": 2}, {"time": "2026-11-28T10:15:30.123457Z"}, {"prev_hash": "1" * 64},
        {"actor": "@mallory:ru"}, {"role": "user"}, {"action": "role.revoke"}, {"target": "@eve:ru"},
        {"region": "by"}, {"request_id": "req-0000"}, {"outcome": "denied"}, {"detail": {"role": "admin"}},
        {"detail": {"role": "auditor", "extra": ""}},
    ],
    ids=lambda change: next(iter(change)),
)
def test_changing_any_hashed_field_changes_the_hash(change):
    original = {"seq": 1, "time": EXAMPLE_TIME, "prev_hash": GENESIS_HASH, "event": EXAMPLE_EVENT}
    event_changes = {k: v for k, v in change.items() if k not in original}
    changed = {**original, **{k: v for k, v in change.items() if k in original}}
    changed["event"] = dataclasses.replace(EXAMPLE_EVENT, **event_changes)

    assert entry_hash(**changed) != entry_hash(**original)


def test_times_are_utc_with_microseconds_whatever_zone_they_come_from():
    moment = datetime(2026, 11, 28, 13, 15, 30, 120000, tzinfo=timezone(timedelta(hours=3)))

    assert format_time(moment) == "2026-11-28T10:15:30.120000Z"
    with pytest.raises(ValueError):
        format_time(datetime(2026, 11, 28))


def test_an_entry_reads_back_from_its_stored_form():
    entry = next_entry(None, EXAMPLE_EVENT, EXAMPLE_TIME)

    assert parse_entry({"_id": "x", **entry.to_document()}) == entry


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: d.pop("hash"), "'hash' is missing"),
        (lambda d: d.update(note="hi"), "'note'"),
        (lambda d: d.update(seq=True), "not a positive integer"),
        (lambda d: d.update(seq=0), "not a positive integer"),
        (lambda d: d.update(actor=7), "'actor' is not a string"),
        (lambda d: d.update(hash="ABC"), "hash is not 64 lowercase hex"),
        (lambda d: d.update(detail={"n": 1}), "detail"),
    ],
    ids=["missing", "extra", "bool-seq", "zero-seq", "mistyped", "bad-hex", "detail"],
)
def test_a_malformed_entry_is_named_as_such(damage, message):
    document = next_entry(None, EXAMPLE_EVENT, EXAMPLE_TIME).to_document()
    damage(document)

    with pytest.raises(MalformedEntry, match=message):
        parse_entry(document)


def test_events_whose_detail_is_not_strings_cannot_be_hashed():
    with pytest.raises(ValueError, match="detail"):
        entry_hash(1, EXAMPLE_TIME, GENESIS_HASH, dataclasses.replace(EXAMPLE_EVENT, detail={"attempts": 3}))
