"""The canonical byte form: one spelling per value, the same bytes `jq -jcS .` prints."""

from __future__ import annotations

import pytest

from svyaz.compliance.audit.canonical import canonical_json


def test_members_are_sorted_by_code_point_at_every_level_and_nothing_is_padded():
    value = {"b": "2", "a": {"z": "1", "A": "0", "é": "3"}, "seq": 10}

    assert canonical_json(value) == '{"a":{"A":"0","z":"1","é":"3"},"b":"2","seq":10}'.encode()


def test_non_ascii_is_written_as_utf8_not_escaped():
    assert canonical_json({"actor": "@алиса:ru"}) == '{"actor":"@алиса:ru"}'.encode()


@pytest.mark.parametrize(
    ("text", "spelled"),
    [
        ('"', r"\""),
        ("\\", r"\\"),
        ("/", "/"),
        ("\b\t\n\f\r", r"\b\t\n\f\r"),
        ("\x00\x01\x1f", r"\u0000\u0001\u001f"),
        ("\x7f", r"\u007f"),  # what jq does; Python's json alone would leave DEL raw
        ("\u2028😀", "\u2028😀"),
    ],
)
def test_strings_escape_exactly_as_documented(text, spelled):
    assert canonical_json({"k": text}) == ('{"k":"' + spelled + '"}').encode("utf-8")


@pytest.mark.parametrize(
    "value",
    [{"k": 1.0}, {"k": True}, {"k": None}, {"k": ["a"]}, {"k": -1}, {1: "a"}, {"k": {"n": 0.5}}],
    ids=["float", "bool", "null", "list", "negative", "int-key", "nested-float"],
)
def test_values_with_more_than_one_spelling_are_refused(value):
    with pytest.raises(ValueError):
        canonical_json(value)


def test_a_lone_surrogate_is_refused_because_it_has_no_utf8_form():
    with pytest.raises(ValueError, match="surrogate"):
        canonical_json({"k": "\ud800"})
