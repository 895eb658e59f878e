"""Building audit chains in memory, and tampering with them the way someone with database access would."""

from __future__ import annotations

import copy
from typing import Any

from svyaz.compliance.audit.chain import entry_hash, next_entry, parse_entry
from svyaz.compliance.audit.checkpoint import Checkpoint, checkpoint_payload
from svyaz.compliance.audit.event import AuditEvent
from svyaz.compliance.audit.verify import Report, verify_log
from svyaz.gost import streebog256

KEY_ID = "00112233aabbccdd"


def event(n: int) -> AuditEvent:
    return AuditEvent(
        actor=f"@user{n}:ru", role="user", action="auth.login", target="-", region="ru",
        request_id=f"req-{n}", outcome="success", detail={"address": f"10.0.0.{n}"},
    )


def build_chain(length: int) -> list[dict[str, Any]]:
    documents, head = [], None
    for n in range(1, length + 1):
        head = next_entry(head, event(n), f"2026-11-28T10:00:{n % 60:02d}.{n:06d}Z")
        documents.append({"_id": f"id{n}", **head.to_document()})
    return documents


def fake_sign(payload: bytes) -> bytes:
    """A stand-in for the GOST signature: 64 bytes only this test 'key' produces."""
    return streebog256(b"test key" + payload) * 2


def check_fake_signature(checkpoint: Checkpoint) -> str | None:
    return None if checkpoint.signature == fake_sign(checkpoint.payload()) else "bad signature"


def checkpoint_at(
    documents: list[dict[str, Any]], seq: int, *, claimed_hash: str | None = None
) -> dict[str, Any]:
    document = next(d for d in documents if d["seq"] == seq)
    hash_ = claimed_hash or document["hash"]
    time = f"2026-11-28T11:00:00.{seq:06d}Z"
    signature = fake_sign(checkpoint_payload(seq, hash_, time, KEY_ID))
    return Checkpoint(seq, hash_, time, KEY_ID, signature).to_document()


def rehash(documents: list[dict[str, Any]], start: int = 0) -> list[dict[str, Any]]:
    """What a chain-aware attacker does after a change: recompute every hash and link from `start`."""
    documents = copy.deepcopy(documents)
    for index in range(start, len(documents)):
        document = documents[index]
        if index > 0:
            document["prev_hash"] = documents[index - 1]["hash"]
        entry = parse_entry(document)
        document["hash"] = entry_hash(entry.seq, entry.time, entry.prev_hash, entry.event)
    return documents


def by_seq(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The order the store returns: numeric seq ascending (duplicates next to each other)."""
    return sorted(documents, key=lambda document: document["seq"])


def verify(documents, checkpoints=(), **options) -> Report:
    """Verify as the store would feed the verifier, with `locate` over these documents."""
    def numeric_seq(document) -> bool:
        return isinstance(document.get("seq"), (int, float)) and not isinstance(document.get("seq"), bool)

    numeric = [d for d in documents if numeric_seq(d)]
    strays = [d for d in documents if d not in numeric]

    def locate(hash_: str) -> list[int]:
        return [d["seq"] for d in numeric if d.get("hash") == hash_]

    return verify_log(
        by_seq(numeric),
        sorted(checkpoints, key=lambda c: c["seq"]),
        check_signature=check_fake_signature,
        locate=locate,
        stray_entries=strays,
        **options,
    )
