"""The `_id` the store files an entry under, and that the verifier ignores it: logs written before
entries had such ids, and logs that mix both, verify exactly as before."""

from __future__ import annotations

import pytest

from svyaz.compliance.audit.chain import parse_entry
from svyaz.compliance.audit.store import entry_document, entry_id
from tests.unit.compliance.chains import build_chain, checkpoint_at, verify


def test_ids_are_strings_in_seq_order():
    ids = [entry_id(seq) for seq in (1, 2, 9, 10, 11, 999, 1000, 10**11)]

    assert ids[0] == "seq:000000000001"
    assert ids == sorted(ids)  # `_id` order is seq order
    assert len(set(ids)) == len(ids)


def test_the_stored_document_is_the_entry_plus_its_id():
    entry = parse_entry(build_chain(1)[0])

    document = entry_document(entry)

    assert document == {"_id": "seq:000000000001", **entry.to_document()}
    assert parse_entry(document) == entry  # `_id` is not part of the entry, nor of its hash


def mixed_chain(length: int = 10, first_new: int = 6) -> list[dict]:
    """Entries 1..first_new-1 as an older store wrote them (the driver's ObjectId-like ids),
    the rest under entry_id(seq)."""
    documents = build_chain(length)
    for document in documents:
        if document["seq"] >= first_new:
            document["_id"] = entry_id(document["seq"])
        else:
            document["_id"] = f"{document['seq']:024x}"  # stands in for an ObjectId
    return documents


def test_a_log_mixing_old_and_new_ids_verifies():
    chain = mixed_chain()

    report = verify(chain, [checkpoint_at(chain, 5), checkpoint_at(chain, 10)])

    assert report.ok, report.summary()
    assert (report.entries, report.last_checkpoint) == (10, 10)


@pytest.mark.parametrize("seq", [3, 8])  # an old entry, a new one
def test_tampering_with_a_mixed_log_is_found(seq):
    chain = mixed_chain()
    next(d for d in chain if d["seq"] == seq)["outcome"] = "failure"

    report = verify(chain, [checkpoint_at(chain, 10)])

    assert (report.finding.kind, report.finding.position) == ("edited", seq)


def test_an_entry_moved_to_another_seq_keeps_its_id_and_is_still_found():
    # The id is not hashed: moving entry 8 to free seq 11 reads as a deletion at 8, id or not.
    chain = mixed_chain()
    next(d for d in chain if d["seq"] == 8)["seq"] = 11
    chain.sort(key=lambda d: d["seq"])

    report = verify(chain)

    assert report.summary() == "tampered: deleted at seq 8: entry 8 is missing: after seq 7 comes seq 9"
