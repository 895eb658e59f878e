"""What a message may say (svyaz/messaging/content.py)."""

from __future__ import annotations

import pytest

from svyaz.messaging.content import MAX_TEXT_CHARS, PREVIEW_CHARS, clean_text, preview
from svyaz.messaging.errors import InvalidMessage


def test_text_is_normalised_to_nfc():
    assert clean_text("cafe\u0301") == "caf\u00e9"


def test_text_is_trimmed():
    assert clean_text("  \n\thello there \n ") == "hello there"


@pytest.mark.parametrize("text", ["", " ", "\n\t  \n", "\u3000"])
def test_empty_or_blank_text_is_refused(text):
    with pytest.raises(InvalidMessage, match="empty"):
        clean_text(text)


@pytest.mark.parametrize("text", [None, 42, b"hello", ["hello"]])
def test_text_must_be_a_string(text):
    with pytest.raises(InvalidMessage):
        clean_text(text)


def test_text_of_exactly_the_limit_is_accepted():
    assert MAX_TEXT_CHARS == 4096
    assert clean_text("x" * 4096) == "x" * 4096


def test_text_one_over_the_limit_is_refused():
    with pytest.raises(InvalidMessage, match="4097"):
        clean_text("x" * 4097)


def test_the_limit_counts_what_remains_after_trimming():
    assert len(clean_text("  " + "x" * 4096 + "\n")) == 4096


def test_the_limit_counts_characters_after_normalisation():
    # 8192 code points as sent, 4096 composed characters as stored.
    assert clean_text("e\u0301" * 4096) == "\u00e9" * 4096


@pytest.mark.parametrize("text", ["line one\nline two", "col\tcol", "a\n\n\tb"])
def test_line_breaks_and_tabs_are_allowed(text):
    assert clean_text(text) == text


@pytest.mark.parametrize("control", ["\x00", "\x07", "\x08", "\x1b", "\x7f", "\x9b", "\x85"])
def test_other_control_characters_are_refused(control):
    with pytest.raises(InvalidMessage, match="control"):
        clean_text(f"before{control}after")


def test_lone_surrogates_are_refused():
    # A JSON frame can carry "\ud800"; json.loads turns it into a lone surrogate.
    with pytest.raises(InvalidMessage):
        clean_text("half a pair: \ud800")


def test_a_short_preview_is_the_text_on_one_line():
    assert preview("hello\n  there\tyou \n") == "hello there you"


def test_a_preview_of_exactly_the_limit_is_kept_whole():
    assert PREVIEW_CHARS == 100
    assert preview("y" * 100) == "y" * 100


def test_a_longer_preview_ends_in_an_ellipsis_at_the_limit():
    shown = preview("y" * 101)
    assert shown == "y" * 99 + "…"
    assert len(shown) == PREVIEW_CHARS


def test_the_preview_limit_counts_after_joining_lines():
    assert preview("a\n\n\n" * 50) == " ".join(["a"] * 50)
