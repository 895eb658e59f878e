"""`svyaz lawful` helpers that run before anything is sent: times and the document's hash."""

from __future__ import annotations

import pytest

from svyaz.cli import build_parser
from svyaz.compliance.lawful.workflow_cli import describe, document_hash, parse_when
from svyaz.errors import SvyazError
from svyaz.gost.provider import RFC6986_M1, RFC6986_M1_256


def test_dates_are_utc_days_and_until_a_date_means_its_end():
    assert parse_when("2026-03-01") == 1_772_323_200.0
    assert parse_when("2026-03-31", end_of_day=True) == 1_775_001_600.0   # 2026-04-01T00:00Z
    assert parse_when("2026-03-01T12:00") == 1_772_323_200.0 + 12 * 3600
    assert parse_when("2026-03-01T12:00+03:00") == 1_772_323_200.0 + 9 * 3600


@pytest.mark.parametrize("text", ["01.03.2026", "2026-13-01", "tomorrow", ""])
def test_a_bad_time_is_refused_with_a_hint(text):
    with pytest.raises(SvyazError) as refused:
        parse_when(text)
    assert "2026-03-01" in refused.value.hint


def test_the_document_hash_is_streebog_256_as_in_rfc_6986(tmp_path):
    document = tmp_path / "order.pdf"
    document.write_bytes(RFC6986_M1)
    assert document_hash(document) == RFC6986_M1_256


def test_a_missing_document_is_an_error_not_a_traceback(tmp_path):
    with pytest.raises(SvyazError, match="cannot read"):
        document_hash(tmp_path / "nope.pdf")


def test_every_workflow_command_is_registered():
    parser = build_parser()
    for command in (["list"], ["show", "lr-ru-1"], ["review", "lr-ru-1"], ["approve", "lr-ru-1"],
                    ["reject", "lr-ru-1", "--reason", "r"], ["close", "lr-ru-1"]):
        args = parser.parse_args(["lawful", *command, "--json"])
        assert args.json and callable(args.handler)


def test_describe_shows_the_steps():
    text = describe({
        "id": "lr-ru-1", "region": "ru", "state": "rejected", "approvals": 0, "subject": "@ivan:ru",
        "categories": ["metadata"], "since": 0, "until": 86_400, "deadline": 2 * 86_400, "authority": "@fsb:ru",
        "submitted_at": 10, "basis": {"kind": "court_order", "number": "1", "date": "2026-01-01", "issuer": "court",
                                      "document_hash": "ab" * 32},
        "steps": [{"step": "reject", "at": 20, "role": "security_officer", "reason": "no seal"}],
    })
    assert "rejected" in text and "security_officer: no seal" in text
