"""Message events: what the writer publishes on Kafka, keyed by chat so a chat stays in order.

Consumers (gateway delivery, chat-list projector, notifier) read the same events. An event of a
private chat names its recipients, so a gateway delivers without a lookup; an event of a group or
channel names instead its `audience` (the group or channel), and each gateway delivers it to the
members it holds connections for: one event whatever the number of members. Decoding validates everything: a malformed
record is refused with MalformedEvent, never half-applied.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from svyaz.messaging.errors import MalformedEvent

MESSAGE_CREATED = "message.created"
MESSAGE_EDITED = "message.edited"
MESSAGE_DELETED = "message.deleted"
RECEIPT_DELIVERED = "receipt.delivered"
RECEIPT_READ = "receipt.read"
TYPING = "typing"
MEMBER_ADDED = "member.added"      # data: {"account", "role"}; also a role change
MEMBER_REMOVED = "member.removed"  # data: {"account"}
KINDS = frozenset({MESSAGE_CREATED, MESSAGE_EDITED, MESSAGE_DELETED, RECEIPT_DELIVERED, RECEIPT_READ, TYPING,
                   MEMBER_ADDED, MEMBER_REMOVED})
# Events the chat list projects; the others only travel to online clients.
PROJECTED = frozenset({MESSAGE_CREATED, MESSAGE_EDITED, MESSAGE_DELETED, RECEIPT_READ})
MAX_EVENT_BYTES = 64 * 1024


@dataclass(frozen=True)
class Event:
    kind: str
    chat: str
    actor: str                      # who caused it: the sender, the reader, the typist
    recipients: tuple[str, ...]     # who is told (the actor's other devices included)
    audience: str = ""              # a group or channel whose connected members are told too
    seq: int = 0                    # the message (or, for receipts, the position) concerned
    at: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)  # the message on the wire, for created/edited
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # The region whose node this change came from, when it arrived by federation; empty for a
    # change made here. The federation forwarder sends on only local changes, never echoes.
    origin: str = ""

    def key(self) -> bytes:
        return self.chat.encode()

    def encode(self) -> bytes:
        return json.dumps({"id": self.id, "kind": self.kind, "chat": self.chat, "actor": self.actor,
                           "recipients": list(self.recipients), "audience": self.audience, "seq": self.seq,
                           "at": self.at, "data": self.data,
                           **({"origin": self.origin} if self.origin else {})}, separators=(",", ":"), ensure_ascii=False).encode()

    def as_wire(self) -> dict[str, Any]:
        """The event as a client receives it: without the recipient list."""
        return {"id": self.id, "kind": self.kind, "chat": self.chat, "actor": self.actor, "seq": self.seq,
                "at": self.at, **({"message": self.data} if self.data else {})}


def decode(raw: bytes) -> Event:
    if len(raw) > MAX_EVENT_BYTES:
        raise MalformedEvent(f"event of {len(raw)} bytes is over {MAX_EVENT_BYTES}")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise MalformedEvent(f"event is not JSON: {err}") from None
    if not isinstance(doc, dict):
        raise MalformedEvent("event is not an object")
    if not isinstance(doc.get("recipients"), list):
        raise MalformedEvent("event recipients must be a list")
    try:
        # `audience` came with groups: events written before it have none.
        event = Event(kind=doc["kind"], chat=doc["chat"], actor=doc["actor"],
                      recipients=tuple(doc["recipients"]), audience=doc.get("audience", ""), seq=doc["seq"],
                      at=doc["at"], data=doc["data"], id=doc["id"], origin=doc.get("origin", ""))
    except (KeyError, TypeError) as err:
        raise MalformedEvent(f"event lacks a field: {err}") from None
    _check(event)
    return event


def _check(event: Event) -> None:
    if not isinstance(event.kind, str) or event.kind not in KINDS:
        raise MalformedEvent(f"unknown event kind {str(event.kind)[:40]!r}")
    texts = (event.chat, event.actor, event.id, *event.recipients)
    if not all(isinstance(value, str) and value for value in texts):
        raise MalformedEvent("event ids must be non-empty strings")
    if not isinstance(event.audience, str) or not isinstance(event.origin, str):
        raise MalformedEvent("event audience and origin must be strings")
    if not isinstance(event.seq, int) or isinstance(event.seq, bool) or event.seq < 0:
        raise MalformedEvent("event seq must be a non-negative integer")
    if not isinstance(event.at, (int, float)) or not isinstance(event.data, dict):
        raise MalformedEvent("event time must be a number and data an object")
