"""Signed checkpoints: the node's GOST signature over "the chain had `seq` entries and entry `seq`
hashed to `entry_hash`", and when to make one.

The signed bytes are `canonical_json({entry_hash, key_id, seq, time})`. Once signed, rewriting or
cutting the chain up to `seq` is detectable even by someone who can recompute every hash.
Pure: standard library and `canonical` only; signing itself is the caller's (see `checkpointer`).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from svyaz.compliance.audit.canonical import canonical_json

CHECKPOINT_FIELDS = frozenset(("seq", "entry_hash", "time", "key_id", "signature"))
_HEX64 = re.compile(r"[0-9a-f]{64}")
_KEY_ID = re.compile(r"[0-9a-f]{16}")


class MalformedCheckpoint(ValueError):
    """A stored checkpoint with a missing, extra or mistyped field."""


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    entry_hash: str
    time: str
    key_id: str
    signature: bytes

    def payload(self) -> bytes:
        return checkpoint_payload(self.seq, self.entry_hash, self.time, self.key_id)

    def to_document(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "entry_hash": self.entry_hash,
            "time": self.time,
            "key_id": self.key_id,
            # base64 so that `jq -j .signature | base64 -d` gives openssl the raw signature
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }


def checkpoint_payload(seq: int, entry_hash: str, time: str, key_id: str) -> bytes:
    """The bytes the node signs for a checkpoint."""
    return canonical_json({"entry_hash": entry_hash, "key_id": key_id, "seq": seq, "time": time})


def parse_checkpoint(document: Mapping[str, Any]) -> Checkpoint:
    """A Checkpoint from its stored form, checking shape only; MalformedCheckpoint if bad."""
    fields = set(document) - {"_id"}
    if missing := CHECKPOINT_FIELDS - fields:
        raise MalformedCheckpoint(f"field {sorted(missing)[0]!r} is missing")
    if extra := fields - CHECKPOINT_FIELDS:
        raise MalformedCheckpoint(f"it has a field {sorted(extra)[0]!r} that checkpoints do not have")
    seq = document["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise MalformedCheckpoint(f"seq {seq!r} is not a positive integer")
    for name in ("entry_hash", "time", "key_id", "signature"):
        if not isinstance(document[name], str):
            raise MalformedCheckpoint(f"field {name!r} is not a string")
    if not _HEX64.fullmatch(document["entry_hash"]):
        raise MalformedCheckpoint("entry_hash is not 64 lowercase hex digits")
    if not _KEY_ID.fullmatch(document["key_id"]):
        raise MalformedCheckpoint("key_id is not 16 lowercase hex digits")
    try:
        signature = base64.b64decode(document["signature"], validate=True)
    except binascii.Error:
        raise MalformedCheckpoint("signature is not base64") from None
    return Checkpoint(int(seq), document["entry_hash"], document["time"], document["key_id"], signature)


@dataclass(frozen=True)
class CheckpointPolicy:
    """Checkpoint when an append reaches a multiple of `every_entries`, and every `every_seconds`
    if entries were added since the last one. None turns that trigger off."""

    every_entries: int | None = 1000
    every_seconds: float | None = 300.0

    def __post_init__(self) -> None:
        entries = self.every_entries
        if entries is not None and (not isinstance(entries, int) or isinstance(entries, bool) or entries < 1):
            raise ValueError(f"every_entries must be a positive integer or None, got {self.every_entries!r}")
        if self.every_seconds is not None and not (
            isinstance(self.every_seconds, (int, float))
            and math.isfinite(self.every_seconds)
            and self.every_seconds > 0
        ):
            raise ValueError(f"every_seconds must be a positive number or None, got {self.every_seconds!r}")

    def due_after_append(self, seq: int) -> bool:
        # A multiple, not "N since the last one": every process of the node can decide alone, and
        # exactly one of them appends that seq.
        return self.every_entries is not None and seq % self.every_entries == 0
