"""What a message may say: text within limits, clean of characters that hide or fake content."""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata

from svyaz.e2e.envelope import parse
from svyaz.e2e.errors import MalformedEnvelope
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
    if any(unicodedata.category(ch) == "Cs" for ch in cleaned):
        # JSON can carry a lone surrogate ("\ud800"); it is not text and cannot be stored.
        raise InvalidMessage("the message contains an unpaired surrogate (not valid Unicode text)")
    return cleaned


def preview(text: str) -> str:
    """The start of a message for a chat list: one line, at most PREVIEW_CHARS characters."""
    line = " ".join(text.split())
    return line if len(line) <= PREVIEW_CHARS else line[: PREVIEW_CHARS - 1] + "…"


TITLE_CHARS = 128
MAX_LINKS = 10
_LINK = re.compile(r"https?://[^\s<>\"]{1,2000}", re.IGNORECASE)


def clean_title(title: object) -> str:
    """A group's or channel's name: one line, 1..TITLE_CHARS characters, nothing invisible."""
    if not isinstance(title, str):
        raise InvalidMessage('"title" must be a string')
    cleaned = unicodedata.normalize("NFC", title.strip())
    if not cleaned or len(cleaned) > TITLE_CHARS:
        raise InvalidMessage(f"a title has 1 to {TITLE_CHARS} characters")
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Cs"} for ch in cleaned):
        raise InvalidMessage("a title cannot contain control, invisible formatting or surrogate characters")
    return cleaned


def links_in(text: str) -> tuple[str, ...]:
    """The http(s) links of a text, in order, without repeats, at most MAX_LINKS; trailing
    punctuation is the sentence's, not the link's."""
    found: list[str] = []
    for match in _LINK.finditer(text):
        link = match.group(0).rstrip(".,;:!?)»")
        if link not in found:
            found.append(link)
    return tuple(found[:MAX_LINKS])


# A secret message: at most MAX_TEXT_CHARS of text (4 bytes each in UTF-8 at worst) plus the
# envelope's header, franking key and tag. The node cannot look inside; it checks only the shape.
MAX_SEALED_BYTES = MAX_TEXT_CHARS * 4 + 512
COMMITMENT_BYTES = 32


def clean_sealed(sealed: object, franking: object) -> tuple[str, str]:
    """A secret message's envelope and franking commitment, each checked to be base64 of a sane size."""
    envelope = _base64(sealed, "sealed")
    if not 0 < len(envelope) <= MAX_SEALED_BYTES:
        raise InvalidMessage(f'"sealed" holds {len(envelope)} bytes; a secret message has 1 to {MAX_SEALED_BYTES}')
    if len(_base64(franking, "franking")) != COMMITMENT_BYTES:
        raise InvalidMessage(f'"franking" must be base64 of a {COMMITMENT_BYTES}-byte commitment')
    return sealed, franking  # type: ignore[return-value]  # both checked to be str by _base64


def envelope_escrow(sealed: str) -> bytes | None:
    """The escrow wrap in a secret message's public header (None if it has none); InvalidMessage
    if the envelope is malformed. The node reads the header only: it holds no key to the rest."""
    try:
        return parse(base64.b64decode(sealed)).escrow
    except MalformedEnvelope as err:
        raise InvalidMessage(f'"sealed" is not a secret message envelope: {err}') from None


def _base64(value: object, name: str) -> bytes:
    if not isinstance(value, str):
        raise InvalidMessage(f'"{name}" must be a base64 string')
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise InvalidMessage(f'"{name}" is not valid base64') from None
