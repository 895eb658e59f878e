"""What anchored checkpoints prove about a stored log: pure logic, fake signatures (chains.py)."""

from __future__ import annotations

import json

import pytest

from svyaz.compliance.audit.anchors import anchor_line, check_anchors
from svyaz.compliance.audit.checkpoint import parse_checkpoint
from svyaz.compliance.audit.verify import Report
from tests.unit.compliance.chains import build_chain, check_fake_signature, checkpoint_at

SOURCE = "anchors.jsonl"


@pytest.fixture
def chain():
    return build_chain(12)


@pytest.fixture
def stored(chain):
    return [checkpoint_at(chain, 4), checkpoint_at(chain, 8), checkpoint_at(chain, 12)]


def lines(*documents) -> list[tuple[int, str]]:
    return [(number, anchor_line(parse_checkpoint(d)).decode()) for number, d in enumerate(documents, 1)]


def check(anchor_lines, stored, head=12, check_signature=check_fake_signature):
    return check_anchors(anchor_lines, stored, head=head, check_signature=check_signature, source=SOURCE)


def never_called(_checkpoint):
    raise AssertionError("an anchor equal to a stored (already verified) checkpoint needs no signature check")


def outcome(result):
    return result.finding and (result.finding.kind, result.finding.position)


def test_an_anchor_line_is_the_stored_document_in_canonical_form(stored):
    line = anchor_line(parse_checkpoint(stored[0]))

    assert line.endswith(b"}\n") and line.count(b"\n") == 1
    assert json.loads(line) == stored[0]
    assert line.index(b'"entry_hash"') < line.index(b'"key_id"') < line.index(b'"seq"')


def test_anchors_all_stored_prove_nothing_was_cut(stored):
    result = check(lines(*stored), stored, check_signature=never_called)

    assert (result.lines, result.finding) == (3, None)


def test_lines_in_any_order_and_blank_lines_are_fine(stored):
    numbered = lines(stored[2], stored[0], stored[1]) + [(4, ""), (5, "  ")]

    assert check(numbered, stored) == check(lines(*stored), stored)


def test_a_log_cut_back_below_the_last_anchor_is_truncation_at_the_first_removed_seq(chain, stored):
    # Entries 10..12 and the checkpoint at 12 deleted: what is left verifies on its own.
    result = check(lines(*stored), stored[:2], head=9)

    assert outcome(result) == ("truncated", 10)
    assert result.finding.explanation.startswith(
        "the chain ends at seq 9, but the checkpoint at seq 12 anchored in anchors.jsonl line 3 (signed at "
    )
    assert "entries 10..12 were removed" in result.finding.explanation


def test_a_deleted_checkpoint_within_the_chain_is_truncation_at_its_seq(stored):
    result = check(lines(*stored), [stored[0], stored[2]])

    assert outcome(result) == ("truncated", 8)
    assert "anchors.jsonl line 2" in result.finding.explanation
    assert "is missing from the database" in result.finding.explanation


def test_the_lowest_anchored_seq_is_named_first(stored):
    assert outcome(check(lines(*stored), [], head=2)) == ("truncated", 3)


def test_a_checkpoint_signed_again_over_other_entries_is_a_rewrite(chain, stored):
    # Cut back to 8, entries 9.. written anew and checkpointed at 12 again: the anchor disagrees.
    regrown = checkpoint_at(chain, 12, claimed_hash="cd" * 32)

    result = check(lines(*stored), [*stored[:2], regrown])

    assert outcome(result) == ("rewritten", 12)
    assert "differs from the checkpoint at seq 12 anchored in anchors.jsonl line 3" in result.finding.explanation


def test_a_forged_anchor_beyond_the_head_is_reported_as_forged_not_as_truncation(chain, stored):
    forged = {**checkpoint_at(chain, 12), "seq": 20}  # a real signature, but over other bytes

    result = check(lines(*stored, forged), stored)

    assert outcome(result) == ("forged_anchor", 20)
    assert result.finding.explanation == "anchors.jsonl line 4 (seq 20) is not genuine: bad signature"


def test_an_unreadable_line_is_reported_with_its_number(stored):
    numbered = lines(*stored) + [(4, '{"seq": 13, "entry_'), (5, "[1, 2]")]

    result = check(numbered, stored)

    assert outcome(result) == ("forged_anchor", None)
    assert result.finding.explanation == (
        "anchors.jsonl line 4 is not a checkpoint: not JSON (a damaged or partly written line?)"
    )


def test_a_line_that_is_json_but_not_a_checkpoint(stored):
    extra = {**stored[0], "note": "mine"}

    result = check([(1, json.dumps(extra))], stored)

    assert result.finding.explanation == (
        "anchors.jsonl line 1 is not a checkpoint: it has a field 'note' that checkpoints do not have"
    )


def test_the_first_bad_line_is_named_whatever_made_it_bad(chain, stored):
    forged = {**checkpoint_at(chain, 4), "entry_hash": "ee" * 32}
    numbered = [(1, anchor_line(parse_checkpoint(forged)).decode()), (2, "garbage")]

    assert check(numbered, stored).finding.explanation.startswith("anchors.jsonl line 1 ")


def test_evidence_of_truncation_comes_before_a_bad_line(stored):
    numbered = [(1, "garbage"), *[(n + 1, text) for n, text in lines(*stored)]]

    assert outcome(check(numbered, stored[:2], head=9)) == ("truncated", 10)


def test_a_malformed_stored_checkpoint_does_not_match_its_anchor(stored):
    damaged = {**stored[1], "signature": "not base64!"}

    assert outcome(check(lines(*stored), [stored[0], damaged, stored[2]])) == ("rewritten", 8)


def test_the_report_says_the_anchors_were_checked():
    report = Report(entries=12, last_seq=12, last_hash="ab" * 32, last_checkpoint=12, finding=None, anchors=3)

    assert report.summary() == (
        "ok: 12 entries, last checkpoint at seq 12; all 3 anchored checkpoints are in the database"
    )
    assert report.as_dict()["anchors"] == 3
