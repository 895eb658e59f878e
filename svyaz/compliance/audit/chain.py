"""The hash chain: what an audit entry hashes, how entry n+1 links to entry n, and reading an entry
back from its stored form.

    hash(n) = hex(Streebog-256(canonical_json({seq, time, prev_hash, actor, role, action, target,
                                                region, request_id, outcome, detail})))
    prev_hash(1) = 64 zeros;  prev_hash(n + 1) = hash(n)

Pure: no store, no threads; only the standard library, `svyaz.gost` for Streebog and `canonical`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from svyaz.compliance.audit.canonical import canonical_json
from svyaz.compliance.audit.event import AuditEvent
from svyaz.gost.provider import streebog256

GENESIS_HASH = "0" * 64
EVENT_FIELDS = ("actor", "role", "action", "target", "region", "request_id", "outcome", "detail")
HASHED_FIELDS = ("seq", "time", "prev_hash", *EVENT_FIELDS)
# The stored document: the hashed fields plus the hash; `_id` is the store's own and not hashed.
DOCUMENT_FIELDS = frozenset((*HASHED_FIELDS, "hash"))
_HEX64 = re.compile(r"[0-9a-f]{64}")


class MalformedEntry(ValueError):
    """A stored entry that is not even shaped like one (a missing, extra or mistyped field)."""


@dataclass(frozen=True)
class ChainEntry:
    seq: int
    time: str
    prev_hash: str
    event: AuditEvent
    hash: str

    def to_document(self) -> dict[str, Any]:
        return {**hashed_fields(self.seq, self.time, self.prev_hash, self.event), "hash": self.hash}


def format_time(moment: datetime) -> str:
    """UTC with microseconds and a `Z`, e.g. `2026-11-28T03:38:00.123456Z`: one spelling per instant."""
    if moment.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def check_event(event: AuditEvent) -> None:
    """ValueError unless every field is a string and `detail` maps strings to strings."""
    for name in EVENT_FIELDS[:-1]:
        if not isinstance(getattr(event, name), str):
            raise ValueError(f"audit event field {name!r} must be a string")
    if not isinstance(event.detail, Mapping) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in event.detail.items()
    ):
        raise ValueError("audit event detail must map strings to strings")


def hashed_fields(seq: int, time: str, prev_hash: str, event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": seq,
        "time": time,
        "prev_hash": prev_hash,
        "actor": event.actor,
        "role": event.role,
        "action": event.action,
        "target": event.target,
        "region": event.region,
        "request_id": event.request_id,
        "outcome": event.outcome,
        "detail": dict(event.detail),
    }


def entry_hash(seq: int, time: str, prev_hash: str, event: AuditEvent) -> str:
    check_event(event)
    return streebog256(canonical_json(hashed_fields(seq, time, prev_hash, event))).hex()


def next_entry(head: ChainEntry | None, event: AuditEvent, time: str) -> ChainEntry:
    """The entry that follows `head` (or starts the chain when `head` is None)."""
    seq, prev_hash = (head.seq + 1, head.hash) if head is not None else (1, GENESIS_HASH)
    return ChainEntry(seq, time, prev_hash, event, entry_hash(seq, time, prev_hash, event))


def parse_entry(document: Mapping[str, Any]) -> ChainEntry:
    """A ChainEntry from its stored form, checking shape only (not the hash); MalformedEntry if bad."""
    fields = set(document) - {"_id"}
    if missing := DOCUMENT_FIELDS - fields:
        raise MalformedEntry(f"field {sorted(missing)[0]!r} is missing")
    if extra := fields - DOCUMENT_FIELDS:
        raise MalformedEntry(f"it has a field {sorted(extra)[0]!r} that entries do not have")
    seq = document["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise MalformedEntry(f"seq {seq!r} is not a positive integer")
    for name in ("time", "prev_hash", "hash", *EVENT_FIELDS[:-1]):
        if not isinstance(document[name], str):
            raise MalformedEntry(f"field {name!r} is not a string")
    for name in ("prev_hash", "hash"):
        if not _HEX64.fullmatch(document[name]):
            raise MalformedEntry(f"{name} is not 64 lowercase hex digits")
    detail = document["detail"]
    if not isinstance(detail, Mapping) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in detail.items()
    ):
        raise MalformedEntry("detail is not a map of strings to strings")
    event = AuditEvent(**{name: document[name] for name in EVENT_FIELDS[:-1]}, detail=dict(detail))
    return ChainEntry(int(seq), document["time"], document["prev_hash"], event, document["hash"])


def recompute(entry: ChainEntry, *, seq: int | None = None, prev_hash: str | None = None) -> str:
    """The hash `entry` would have at another position or with another predecessor (for diagnosis)."""
    return entry_hash(
        entry.seq if seq is None else seq,
        entry.time,
        entry.prev_hash if prev_hash is None else prev_hash,
        entry.event,
    )
