"""What a change to a private chat, or a block, looks like between nodes: the `stream`, `kind` and
`payload` of a federation envelope (docs/federation.md, "Payloads"), both ways.

Each node numbers a chat's messages itself, so a message is named by its sender and client id
(`{"sender": ..., "client_id": ...}`), never by a sequence number. Times are integer milliseconds
(the signed bytes carry no floats). Reading is strict: a payload that is not exactly what this
module writes is `malformed`, and one in which the origin acts for an account it does not host,
or about a chat this region does not store, is `not_permitted`; neither changes anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from svyaz.federation.errors import Malformed, NotPermitted
from svyaz.messaging import events
from svyaz.messaging.arrivals import ArrivingMessage, Ref
from svyaz.messaging.content import clean_sealed
from svyaz.messaging.errors import InvalidMessage
from svyaz.messaging.events import Event
from svyaz.messaging.ids import check_client_id, is_secret, private_participants
from svyaz.messaging.ports import MessageStore
from svyaz.node.federation.payload import PayloadFields

MESSAGE_CREATED, MESSAGE_EDITED, MESSAGE_DELETED = events.MESSAGE_CREATED, events.MESSAGE_EDITED, events.MESSAGE_DELETED
RECEIPT_DELIVERED, RECEIPT_READ = events.RECEIPT_DELIVERED, events.RECEIPT_READ
# Typing is not sent across a border: it is stale long before MirrorMaker 2 has carried it.
FORWARDED = frozenset({MESSAGE_CREATED, MESSAGE_EDITED, MESSAGE_DELETED, RECEIPT_DELIVERED, RECEIPT_READ})
# A block of an account abroad, told to that account's node so it refuses the sends up front.
BLOCK_ADDED, BLOCK_REMOVED = "block.added", "block.removed"
BLOCK_PREFIX = "block/"


# --- writing: a local event as it leaves -------------------------------------------------------------

async def from_event(event: Event, messages: MessageStore) -> tuple[str, dict[str, Any]]:
    """The envelope kind and payload of a local event of a private chat. `messages` names the
    messages a reply or a receipt points at (InvalidMessage if one is gone)."""
    if event.kind == MESSAGE_CREATED:
        return event.kind, await _created(event, messages)
    if event.kind == MESSAGE_EDITED:
        return event.kind, {**_ref(event.data), "text": event.data["text"], "edited_at_ms": _ms(event.at)}
    if event.kind == MESSAGE_DELETED:
        return event.kind, _ref(event.data)
    if event.kind in (RECEIPT_DELIVERED, RECEIPT_READ):
        up_to = await _ref_at(event.chat, event.seq, messages)
        return event.kind, {"reader": event.actor, "up_to": up_to}
    raise InvalidMessage(f"{event.kind} events are not sent to other regions")


async def _created(event: Event, messages: MessageStore) -> dict[str, Any]:
    data = event.data
    payload: dict[str, Any] = {**_ref(data), "text": data["text"], "sent_at_ms": _ms(data["sent_at"])}
    if data.get("reply_to") is not None:
        payload["reply_to"] = await _ref_at(event.chat, data["reply_to"], messages)
    for name in ("forwarded_from", "sealed", "franking"):
        if data.get(name) is not None:
            payload[name] = data[name]
    return payload


def _ref(data: Mapping[str, Any]) -> dict[str, str]:
    return {"sender": data["sender"], "client_id": data["client_id"]}


async def _ref_at(chat: str, seq: int, messages: MessageStore) -> dict[str, str]:
    message = await messages.get(chat, seq)
    if message is None:
        raise InvalidMessage(f"{chat[:80]} has no message {seq} to name")
    return {"sender": message.sender, "client_id": message.client_id}


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


def block_stream(blocker: str, blocked: str) -> str:
    """One stream per pair, so a block and its lifting arrive in the order they were made."""
    return f"{BLOCK_PREFIX}{blocker}/{blocked}"


def block_event(blocker: str, blocked: str, blocking: bool) -> tuple[str, str, dict[str, str]]:
    """(stream, kind, payload) telling `blocked`'s node of the change."""
    return (block_stream(blocker, blocked), BLOCK_ADDED if blocking else BLOCK_REMOVED,
            {"blocker": blocker, "blocked": blocked})


# --- reading: an envelope's payload as it arrives ----------------------------------------------------

@dataclass(frozen=True)
class BlockChange:
    blocker: str   # an account of the origin
    blocked: str   # an account of this region
    blocking: bool


def read_block(*, origin: str, local_region: str, stream: str, kind: str,
               payload: Mapping[str, Any]) -> BlockChange:
    fields = _Fields(payload, kind)
    blocker, blocked = fields.resident("blocker", origin), fields.resident("blocked", local_region)
    fields.done({"blocker", "blocked"})
    if stream != block_stream(blocker, blocked):
        raise Malformed(f"a block of {blocked} by {blocker} travels on its own stream, not {stream[:80]!r}")
    return BlockChange(blocker, blocked, kind == BLOCK_ADDED)

@dataclass(frozen=True)
class Arrival:
    """A checked payload: what `kind` asks of `chat`, by `actor` (an account the origin hosts)."""

    kind: str
    chat: str
    actor: str
    message: ArrivingMessage | None = None  # created
    ref: Ref | None = None                  # edited, deleted: the message; receipts: read up to it
    text: str = ""                          # edited
    at: float = 0.0                         # edited_at, or the receipt's time


def read(*, origin: str, local_region: str, stream: str, kind: str, payload: Mapping[str, Any],
         created_at_ms: int) -> Arrival:
    """The arrival a verified envelope asks for; Malformed or NotPermitted if it may not be applied."""
    chat = _chat(stream, origin=origin, local_region=local_region)
    fields = _Fields(payload, kind)
    if kind == MESSAGE_CREATED:
        sender = fields.participant("sender", chat, origin)
        secret = is_secret(chat)
        text, sealed, franking = fields.content(secret)
        reply_to = fields.ref("reply_to", chat, optional=True)
        forwarded_from = fields.optional_account("forwarded_from")
        fields.done({"sender", "client_id", "text", "sent_at_ms", "reply_to", "forwarded_from", "sealed", "franking"})
        message = ArrivingMessage(chat=chat, sender=sender, client_id=fields.client_id("client_id"), text=text,
                                  sent_at=fields.ms("sent_at_ms"), reply_to=reply_to, forwarded_from=forwarded_from,
                                  sealed=sealed, franking=franking)
        return Arrival(kind, chat, sender, message=message)
    if kind == MESSAGE_EDITED:
        if is_secret(chat):
            raise Malformed("a secret chat's messages cannot be edited")
        sender = fields.participant("sender", chat, origin)
        ref = Ref(sender, fields.client_id("client_id"))
        text = fields.text("text")
        edited_at = fields.ms("edited_at_ms")
        fields.done({"sender", "client_id", "text", "edited_at_ms"})
        return Arrival(kind, chat, sender, ref=ref, text=text, at=edited_at)
    if kind == MESSAGE_DELETED:
        sender = fields.participant("sender", chat, origin)
        ref = Ref(sender, fields.client_id("client_id"))
        fields.done({"sender", "client_id"})
        return Arrival(kind, chat, sender, ref=ref)
    if kind in (RECEIPT_DELIVERED, RECEIPT_READ):
        reader = fields.participant("reader", chat, origin)
        up_to = fields.ref("up_to", chat)
        fields.done({"reader", "up_to"})
        return Arrival(kind, chat, reader, ref=up_to, at=created_at_ms / 1000)
    raise Malformed(f"unknown kind {kind!r} for a private chat")


def _chat(stream: str, *, origin: str, local_region: str) -> str:
    """The private chat `stream` names, which must have a participant here and one on `origin`."""
    try:
        participants = private_participants(stream)
    except InvalidMessage as err:
        raise Malformed(f"stream {stream[:80]!r} is not a private chat: {err}") from None
    regions = {account.rpartition(":")[2] for account in participants}
    if local_region not in regions:
        raise NotPermitted(f"{stream[:80]} has no participant in {local_region}: this region does not store it")
    if origin not in regions:
        raise NotPermitted(f"{stream[:80]} has no participant in {origin}, which may not change it")
    return stream


class _Fields(PayloadFields):
    """The payload reader, with what a private chat's payload names: its participants, its content
    and its messages."""

    def participant(self, name: str, chat: str, origin: str) -> str:
        """An account of `chat` that `origin` hosts: an origin speaks only for its own residents."""
        account = self.get(name)
        if not isinstance(account, str) or account not in private_participants(chat):
            raise Malformed(f"{self.what} {name} is not a participant of {chat[:80]}")
        if account.rpartition(":")[2] != origin:
            raise NotPermitted(f"{origin} may not act for {account}, who lives in another region")
        return account

    def resident(self, name: str, region: str) -> str:
        """An account living in `region`."""
        account = self.account(name)
        if account.rpartition(":")[2] != region:
            raise NotPermitted(f"{self.what} {name} {account} does not live in {region}")
        return account

    def content(self, secret: bool) -> tuple[str, str | None, str | None]:
        """(text, sealed, franking): text for a plain chat, an envelope and commitment for a secret one."""
        if not secret:
            if "sealed" in self.payload or "franking" in self.payload:
                raise Malformed("a plain chat's message carries no sealed envelope")
            return self.text("text"), None, None
        if self.get("text") != "":
            raise Malformed("a secret chat's message carries no text")
        try:
            sealed, franking = clean_sealed(self.get("sealed"), self.get("franking"))
        except InvalidMessage as err:
            raise Malformed(f"{self.what}: {err}") from None
        return "", sealed, franking

    def ref(self, name: str, chat: str, *, optional: bool = False) -> Ref | None:
        value = self.payload.get(name)
        if value is None and optional:
            return None
        if not isinstance(value, Mapping) or set(value) != {"sender", "client_id"}:
            raise Malformed(f"{self.what} {name} must name a message by sender and client_id")
        if value["sender"] not in private_participants(chat):
            raise Malformed(f"{self.what} {name} names a message by someone outside {chat[:80]}")
        try:
            return Ref(value["sender"], check_client_id(value["client_id"]))
        except InvalidMessage as err:
            raise Malformed(f"{self.what} {name}: {err}") from None
