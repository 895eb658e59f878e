"""A secret message on the wire: a small binary header, then the AEAD ciphertext and tag.

    version(1) kind(1, flag 0x80 ESCROWED) counter(8, big-endian)
    [INTRODUCTION only: handshake nonce(8) signed prekey id(4) one-time prekey id(4)
                        initiator identity key(64) initiator ephemeral key(64)]
    [ESCROWED only: the message key wrapped for the region's escrow key (svyaz.e2e.escrow)]
    ciphertext || tag

The header is authenticated (it is part of the associated data) but not secret: the counter and
the public keys tell the node nothing it could read a message with. The initiator keeps sending
INTRODUCTION envelopes until the first reply, so whichever of its messages arrives first lets the
responder set the session up.

The plaintext is franking key(32) | content kind(1) | body, the kind being TEXT or a control message
such as a group's SENDER_KEY distribution (svyaz.e2e.group). The content kind is inside the
ciphertext, so the node cannot tell a key distribution from a text.

Group messages have their own kind, GROUP, and layout (svyaz.e2e.group); `parse` refuses them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from svyaz.e2e.errors import MalformedEnvelope
from svyaz.gost.aead import TAG_BYTES

VERSION = 1
INTRODUCTION, FOLLOWING, GROUP = 1, 2, 3
ESCROWED = 0x80             # a flag on the kind byte
# Content kinds, the byte after the franking key in the plaintext.
TEXT, SENDER_KEY = 1, 2
PUBLIC_KEY_BYTES = 64       # x || y of a 256-bit GOST R 34.10-2012 point
HANDSHAKE_NONCE_BYTES = 8   # the VKO UKM
NO_ONE_TIME_PREKEY = 0xFFFFFFFF
# version, escrow key id, UKM, ephemeral public key, then the sealed 32-byte key and its tag
ESCROW_WRAP_BYTES = 1 + 8 + 8 + PUBLIC_KEY_BYTES + 32 + 16
_PREFIX = struct.Struct(">BBQ")
_INTRODUCTION = struct.Struct(f">{HANDSHAKE_NONCE_BYTES}sII{PUBLIC_KEY_BYTES}s{PUBLIC_KEY_BYTES}s")
MAX_COUNTER = 2**64 - 1


@dataclass(frozen=True)
class Introduction:
    """What the responder needs to compute the initiator's session keys."""

    handshake_nonce: bytes
    signed_prekey_id: int
    one_time_prekey_id: int | None
    identity_key: bytes
    ephemeral_key: bytes


@dataclass(frozen=True)
class Envelope:
    counter: int
    body: bytes                              # ciphertext || tag
    introduction: Introduction | None = None
    escrow: bytes | None = None              # the message key wrapped for the region's escrow key

    def header(self) -> bytes:
        kind = FOLLOWING if self.introduction is None else INTRODUCTION
        kind |= ESCROWED if self.escrow is not None else 0
        header = _PREFIX.pack(VERSION, kind, self.counter)
        if self.introduction is not None:
            intro = self.introduction
            one_time = NO_ONE_TIME_PREKEY if intro.one_time_prekey_id is None else intro.one_time_prekey_id
            header += _INTRODUCTION.pack(intro.handshake_nonce, intro.signed_prekey_id, one_time,
                                         intro.identity_key, intro.ephemeral_key)
        if self.escrow is not None:
            header += self.escrow
        return header

    def to_bytes(self) -> bytes:
        return self.header() + self.body


def parse(raw: bytes) -> Envelope:
    """The envelope in `raw`; MalformedEnvelope for anything else (never a crash)."""
    if len(raw) < _PREFIX.size + TAG_BYTES:
        raise MalformedEnvelope(f"a secret message is at least {_PREFIX.size + TAG_BYTES} bytes; got {len(raw)}")
    version, flagged_kind, counter = _PREFIX.unpack_from(raw)
    if version != VERSION:
        raise MalformedEnvelope(f"secret message version {version} is not one this client reads (it reads {VERSION})")
    kind, escrowed = flagged_kind & ~ESCROWED, bool(flagged_kind & ESCROWED)
    if kind == GROUP:
        raise MalformedEnvelope("this is a group message, not a message of a two-person secret chat")
    if kind not in (INTRODUCTION, FOLLOWING):
        raise MalformedEnvelope(f"unknown secret message kind {kind}")
    offset, introduction = _PREFIX.size, None
    if kind == INTRODUCTION:
        _need(raw, offset + _INTRODUCTION.size, "introduction")
        nonce, signed_id, one_time_id, identity, ephemeral = _INTRODUCTION.unpack_from(raw, offset)
        introduction = Introduction(
            handshake_nonce=nonce, signed_prekey_id=signed_id,
            one_time_prekey_id=None if one_time_id == NO_ONE_TIME_PREKEY else one_time_id,
            identity_key=identity, ephemeral_key=ephemeral)
        offset += _INTRODUCTION.size
    escrow = None
    if escrowed:
        _need(raw, offset + ESCROW_WRAP_BYTES, "escrow wrap")
        escrow, offset = raw[offset:offset + ESCROW_WRAP_BYTES], offset + ESCROW_WRAP_BYTES
    return Envelope(counter=counter, body=raw[offset:], introduction=introduction, escrow=escrow)


def _need(raw: bytes, header_end: int, part: str) -> None:
    if len(raw) < header_end + TAG_BYTES:
        raise MalformedEnvelope(f"the {part} of a secret message is cut short")
