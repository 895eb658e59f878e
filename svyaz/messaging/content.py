"""What a message may say: text within limits, clean of characters that hide or fake content."""

from __future__ import annotations

import unicodedata

from svyaz.messaging.errors import InvalidMessage

MAX_TEXT_CHARS = 4096
PREVIEW_CHARS = 100
# Allowed in text although below U+0020: line breaks and tabs.
_ALLOWED_CONTROLS = frozenset("\n\t")


def clean_text(text: object) -> str:
    """NFC-normalised text, 1..MAX_TEXT_CHARS characters; InvalidMessage otherwise."""
    if not isinstance(text, str):
        raise InvalidMessage('"text" must be a string')
    cleaned = unicodedata.normalize("NFC", text.strip())
    if not cleaned:
        raise InvalidMessage("the message is empty")
    if len(cleaned) > MAX_TEXT_CHARS:
        raise InvalidMessage(f"the message has {len(cleaned)} characters; the limit is {MAX_TEXT_CHARS}")
    if any(unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROLS for ch in cleaned):
        raise InvalidMessage("the message contains control characters")
    return cleaned


def preview(text: str) -> str:
    """The start of a message for a chat list: one line, at most PREVIEW_CHARS characters."""
    line = " ".join(text.split())
    return line if len(line) <= PREVIEW_CHARS else line[: PREVIEW_CHARS - 1] + "…"
