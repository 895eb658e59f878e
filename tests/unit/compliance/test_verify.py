"""The pure verifier over in-memory chains: each kind of tampering someone with write access to the
database could do, and the first bad position it is named at."""

from __future__ import annotations

import copy

import pytest

from svyaz.compliance.audit.chain import next_entry
from svyaz.compliance.audit.verify import Anchor, verify_log
from tests.unit.compliance.chains import (
    build_chain,
    check_fake_signature,
    checkpoint_at,
    event,
    rehash,
    verify,
)


@pytest.fixture
def chain():
    return build_chain(10)


def finding(report):
    assert report.finding is not None, report.summary()
    return report.finding.kind, report.finding.position


# Intact -------------------------------------------------------------------------------------------


def test_an_intact_chain_with_checkpoints_is_ok(chain):
    report = verify(chain, [checkpoint_at(chain, 5), checkpoint_at(chain, 10)])

    assert report.ok
    assert (report.entries, report.last_seq, report.last_checkpoint) == (10, 10, 10)
    assert report.last_hash == chain[-1]["hash"]
    assert report.summary() == "ok: 10 entries, last checkpoint at seq 10"


def test_ok_says_how_many_entries_no_signature_covers_yet(chain):
    assert verify(chain, [checkpoint_at(chain, 5)]).summary() == (
        "ok: 10 entries, last checkpoint at seq 5 (5 later entries not yet covered by a signature)"
    )
    assert verify(chain).summary() == "ok: 10 entries, no signed checkpoint yet"


def test_an_empty_log_is_ok():
    assert verify([]).summary() == "ok: 0 entries, no signed checkpoint yet"


# 1. Edited ----------------------------------------------------------------------------------------


def test_an_edited_field_is_named_at_its_entry(chain):
    chain[3]["outcome"] = "denied"

    report = verify(chain)

    assert finding(report) == ("edited", 4)
    assert report.entries == 3
    assert report.summary() == "tampered: edited at seq 4: entry 4's fields do not hash to its stored hash"


def test_an_edited_prev_hash_is_named_as_such(chain):
    chain[3]["prev_hash"] = "f" * 64

    report = verify(chain)

    assert finding(report) == ("edited", 4)
    assert "prev_hash was changed" in report.finding.explanation


@pytest.mark.parametrize(
    "damage",
    [lambda d: d.pop("actor"), lambda d: d.update(note="x"), lambda d: d.update(detail={"n": 1})],
    ids=["missing-field", "extra-field", "mistyped-detail"],
)
def test_a_malformed_entry_counts_as_edited(chain, damage):
    damage(chain[6])

    assert finding(verify(chain)) == ("edited", 7)


def test_an_edit_with_every_later_hash_recomputed_is_caught_by_the_next_signed_checkpoint(chain):
    checkpoints = [checkpoint_at(chain, 5), checkpoint_at(chain, 10)]
    chain[6]["outcome"] = "denied"
    chain = rehash(chain, 6)

    report = verify(chain, checkpoints)

    assert finding(report) == ("rewritten", 10)
    assert report.last_checkpoint == 5


def test_a_recomputed_edit_after_the_last_checkpoint_goes_unnoticed_until_the_next_one(chain):
    # The limit of any hash chain whose writer holds no secret: checkpoints bound the window.
    checkpoints = [checkpoint_at(chain, 5)]
    chain[6]["outcome"] = "denied"

    assert verify(rehash(chain, 6), checkpoints).ok


# 2. Deleted ---------------------------------------------------------------------------------------


def test_a_deleted_entry_leaves_a_gap_named_at_the_missing_seq(chain):
    del chain[3]

    report = verify(chain)

    assert finding(report) == ("deleted", 4)
    assert report.finding.explanation == "entry 4 is missing: after seq 3 comes seq 5"


def test_several_deleted_entries_are_named_as_a_range(chain):
    del chain[3:6]

    assert verify(chain).finding.explanation == "entries 4..6 are missing: after seq 3 comes seq 7"


def test_deleting_the_first_entry_is_caught(chain):
    del chain[0]

    assert finding(verify(chain)) == ("deleted", 1)


def test_a_deletion_hidden_by_renumbering_is_still_a_deletion(chain):
    del chain[3]
    for document in chain[3:]:
        document["seq"] -= 1

    assert finding(verify(chain)) == ("deleted", 4)


def test_a_deletion_hidden_by_renumbering_and_rehashing_each_entry_is_still_a_deletion(chain):
    # Each renumbered entry hashes correctly again, but still points at the removed entry.
    del chain[3]
    for document in chain[3:]:
        document["seq"] -= 1
    chain = [rehash([d])[0] if d["seq"] >= 4 else d for d in chain]

    report = verify(chain)

    assert finding(report) == ("deleted", 4)
    assert "the entry it was written after is gone" in report.finding.explanation


# 3. Inserted --------------------------------------------------------------------------------------


def test_a_second_entry_with_a_taken_seq_is_an_insertion(chain):
    # Possible once the unique index on seq is dropped.
    intruder = {**copy.deepcopy(chain[4]), "_id": "intruder", "outcome": "denied"}

    report = verify(chain + [intruder])

    assert finding(report) == ("inserted", 5)
    assert report.finding.explanation == "2 entries claim seq 5; the chain has one"


def test_a_well_formed_entry_inserted_by_renumbering_the_later_ones_is_named(chain):
    # The careful attacker: keeps the unique index, shifts 5..10 up by one, and writes a correctly
    # hashed entry 5 after entry 4.
    for document in chain[4:]:
        document["seq"] += 1
    forged = next_entry(None, event(99), "2026-11-28T10:00:04.500000Z")
    forged_doc = rehash([chain[3], {"_id": "forged", **forged.to_document(), "seq": 5}])[1]

    report = verify(chain[:4] + [forged_doc] + chain[4:])

    assert finding(report) == ("inserted", 5)
    assert "entries 5 and 6 were both written after entry 4" in report.finding.explanation


@pytest.mark.parametrize("seq", [0, -3])
def test_an_entry_before_seq_1_is_an_insertion(chain, seq):
    assert finding(verify(chain + [{**chain[0], "_id": "junk", "seq": seq}])) == ("inserted", seq)


@pytest.mark.parametrize("seq", ["5", None, 4.5])
def test_an_entry_whose_seq_is_not_an_integer_is_an_insertion(chain, seq):
    report = verify(chain + [{**chain[0], "_id": "junk", "seq": seq}])

    assert finding(report) == ("inserted", None)


# 4. Reordered -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("first", "second"), [(3, 7), (3, 4), (1, 2)])
def test_two_entries_swapping_places_are_named_at_the_earlier_place(chain, first, second):
    chain[first - 1]["seq"], chain[second - 1]["seq"] = second, first

    report = verify(chain)

    assert finding(report) == ("reordered", first)
    assert "entries were moved" in report.finding.explanation


def test_swapping_only_the_event_fields_reads_as_an_edit(chain):
    # Hashes and links stay put, so the entry simply no longer matches its own hash.
    fields = ("actor", "action", "outcome", "request_id", "detail", "time")
    for name in fields:
        chain[2][name], chain[6][name] = chain[6][name], chain[2][name]

    assert finding(verify(chain)) == ("edited", 3)


# 5. Truncated -------------------------------------------------------------------------------------


def test_removing_the_last_entries_is_caught_by_the_signed_checkpoint(chain):
    checkpoints = [checkpoint_at(chain, 5), checkpoint_at(chain, 10)]

    report = verify(chain[:8], checkpoints)

    assert finding(report) == ("truncated", 9)
    assert "the chain ends at seq 8" in report.finding.explanation
    assert "entries 9..10 were removed" in report.finding.explanation


def test_removing_every_entry_is_truncation_at_seq_1(chain):
    assert finding(verify([], [checkpoint_at(chain, 10)])) == ("truncated", 1)


def test_truncating_and_writing_new_entries_over_the_cut_is_a_rewrite(chain):
    checkpoints = [checkpoint_at(chain, 10)]
    replacement = copy.deepcopy(chain[:8])
    head = None
    for n in range(1, 11):
        head = next_entry(head, event(n if n <= 8 else 100 + n), chain[n - 1]["time"])
        if n > 8:
            replacement.append({"_id": f"new{n}", **head.to_document()})

    assert finding(verify(replacement, checkpoints)) == ("rewritten", 10)


def test_truncation_beyond_the_last_checkpoint_goes_unnoticed(chain):
    assert verify(chain[:8], [checkpoint_at(chain, 5)]).ok


# Forged checkpoints -------------------------------------------------------------------------------


def test_a_checkpoint_with_a_bad_signature_is_forged(chain):
    checkpoint = checkpoint_at(chain, 5)
    checkpoint["time"] = "2026-11-28T12:00:00.000000Z"  # the signature no longer covers it

    report = verify(chain, [checkpoint])

    assert finding(report) == ("forged_checkpoint", 5)
    assert report.finding.explanation == "the checkpoint at seq 5 is not genuine: bad signature"


def test_hiding_truncation_behind_a_forged_checkpoint_fails(chain):
    # The attacker cuts entries 9-10, deletes the checkpoint at 10 and writes one at 8 unsigned.
    forged = checkpoint_at(chain, 8)
    forged["signature"] = "AAAA"

    assert finding(verify(chain[:8], [checkpoint_at(chain, 5), forged])) == ("forged_checkpoint", 8)


def test_a_forged_checkpoint_beyond_the_chain_is_forged_not_truncation(chain):
    forged = checkpoint_at(chain, 10)
    forged["signature"] = "AAAA"

    assert finding(verify(chain[:8], [forged])) == ("forged_checkpoint", 10)


def test_a_malformed_checkpoint_is_forged(chain):
    checkpoint = checkpoint_at(chain, 5)
    del checkpoint["key_id"]

    assert finding(verify(chain, [checkpoint])) == ("forged_checkpoint", 5)


def test_a_checkpoint_without_a_numeric_seq_is_forged(chain):
    report = verify_log(
        chain, [], check_signature=check_fake_signature, stray_checkpoints=[{"_id": "x", "seq": "10"}]
    )

    assert finding(report) == ("forged_checkpoint", None)


# Streaming and order of findings ------------------------------------------------------------------


def test_the_first_bad_position_wins(chain):
    chain[2]["outcome"] = "denied"
    del chain[6]

    assert finding(verify(chain)) == ("edited", 3)


def test_entries_are_read_lazily_and_not_past_the_first_bad_position(chain):
    chain[3]["outcome"] = "denied"
    pulled = []

    def stream():
        for document in chain:
            pulled.append(document["seq"])
            yield document

    report = verify_log(stream(), check_signature=check_fake_signature)

    assert finding(report) == ("edited", 4)
    assert pulled == [1, 2, 3, 4, 5]  # one look past entry 4, to be sure it had no duplicate


def test_a_segment_verifies_from_a_trusted_anchor(chain):
    anchor = Anchor(5, chain[4]["hash"])

    assert verify_log(chain[5:], check_signature=check_fake_signature, anchor=anchor).entries == 5


def test_a_segment_whose_anchor_was_rewritten_is_a_rewrite(chain):
    chain[2]["outcome"] = "denied"
    chain = rehash(chain, 2)
    signed_before = Anchor(5, build_chain(10)[4]["hash"])

    report = verify_log(chain[5:], check_signature=check_fake_signature, anchor=signed_before)

    assert finding(report) == ("rewritten", 5)


def test_the_json_form_carries_the_same_facts(chain):
    del chain[3]

    assert verify(chain).as_dict() == {
        "ok": False, "entries": 3, "last_seq": 3, "last_checkpoint": None, "anchors": None,
        "kind": "deleted", "position": 4,
        "explanation": "entry 4 is missing: after seq 3 comes seq 5",
    }


def test_an_inserted_entry_at_a_checkpointed_seq_is_named_an_insertion_not_a_rewrite(chain):
    checkpoints = [checkpoint_at(chain, 5)]
    for document in chain[4:]:
        document["seq"] += 1
    forged = next_entry(None, event(99), "2026-11-28T10:00:04.500000Z")
    forged_doc = rehash([chain[3], {"_id": "forged", **forged.to_document(), "seq": 5}])[1]

    assert finding(verify(chain[:4] + [forged_doc] + chain[4:], checkpoints)) == ("inserted", 5)


def test_a_checkpoint_mismatch_comes_before_a_later_bad_entry(chain):
    # A genuinely signed checkpoint at 5 that entry 5 no longer matches, and entry 7 deleted.
    checkpoints = [checkpoint_at(chain, 5, claimed_hash="e" * 64)]
    del chain[6]

    assert finding(verify(chain, checkpoints)) == ("rewritten", 5)
