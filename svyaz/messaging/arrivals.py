"""Changes to private chats made on another region's node, applied here (federation, issue 5).

A private chat between `@alice:ru` and `@bob:kz` is stored on both home nodes. Each node numbers
the chat's messages itself, in the order they reach it, so the two numberings may differ where
messages crossed; a message is therefore named across nodes by its sender and client id (a `Ref`),
which both copies share. Arrivals are stored through the same writer as local sends and announced
as local events marked with their `origin`, so live delivery, the chat list and pushes treat them
like any other message, and the federation forwarder does not send them back.

Every arrival is idempotent: a message by its client id (the writer returns the stored copy), an
edit or a deletion by the state it sets, a receipt by the cursor's `$max`. The caller has already
checked that the origin hosts the account acting and that this region stores the chat.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from svyaz.messaging import events
from svyaz.messaging.chatlist_writer import project
from svyaz.messaging.events import Event
from svyaz.messaging.ids import private_participants
from svyaz.messaging.model import Message
from svyaz.messaging.ports import BlockStore, ChatListStore, EventPublisher, MessageStore
from svyaz.messaging.writer import SequencedWriter

logger = logging.getLogger("svyaz.messaging.arrivals")


@dataclass(frozen=True)
class Ref:
    """A message as every node storing its chat can find it: its sender and client id."""

    sender: str
    client_id: str


@dataclass(frozen=True)
class ArrivingMessage:
    chat: str
    sender: str
    client_id: str
    text: str
    sent_at: float
    reply_to: Ref | None = None
    forwarded_from: str | None = None
    sealed: str | None = None
    franking: str | None = None


class PrivateArrivals:
    def __init__(self, *, region: str, messages: MessageStore, chat_list: ChatListStore, publisher: EventPublisher,
                 writer: SequencedWriter, blocks: BlockStore) -> None:
        """`writer` must be the one the region's `PrivateChats` uses: its per-chat turn keeps local
        sends and arrivals from taking one sequence number."""
        self._region = region
        self._messages = messages
        self._chat_list = chat_list
        self._publisher = publisher
        self._writer = writer
        self._blocks = blocks

    async def message(self, origin: str, arriving: ArrivingMessage, *, event_id: str) -> Message | None:
        """Store a message sent on `origin`'s node; None if its recipient here blocks the sender
        (the sender's node refuses such sends once it has heard of the block; this catches the
        ones already on their way)."""
        (recipient,) = _others(arriving.chat, arriving.sender)
        if await self._blocks.blocks(recipient, arriving.sender):
            logger.info("message from a blocked sender dropped", extra={"chat": arriving.chat, "origin": origin})
            return None
        reply_to = await self._seq(arriving.chat, arriving.reply_to) if arriving.reply_to else None
        draft = Message(chat=arriving.chat, seq=0, sender=arriving.sender, client_id=arriving.client_id,
                        text=arriving.text, sent_at=arriving.sent_at, reply_to=reply_to,
                        forwarded_from=arriving.forwarded_from, sealed=arriving.sealed, franking=arriving.franking)
        return await self._writer.store(draft, then=lambda message: self._announce(
            events.MESSAGE_CREATED, message, actor=arriving.sender, origin=origin, event_id=event_id))

    async def edit(self, origin: str, chat: str, ref: Ref, *, text: str, edited_at: float, event_id: str) -> None:
        async with self._writer.locked(chat):
            message = await self._find(chat, ref)
            if message is None or message.deleted:
                return
            edited = replace(message, text=text, edited_at=edited_at)
            await self._messages.replace(edited)
            await self._announce(events.MESSAGE_EDITED, edited, actor=ref.sender, origin=origin, event_id=event_id)

    async def delete(self, origin: str, chat: str, ref: Ref, *, event_id: str) -> None:
        async with self._writer.locked(chat):
            message = await self._find(chat, ref)
            if message is None or message.deleted:
                return
            deleted = replace(message, text="", sealed=None, deleted=True, edited_at=None, forwarded_from=None)
            await self._messages.replace(deleted)
            await self._announce(events.MESSAGE_DELETED, deleted, actor=ref.sender, origin=origin,
                                 event_id=event_id)

    async def receipt(self, origin: str, chat: str, reader: str, kind: str, up_to: Ref, *, at: float,
                      event_id: str) -> None:
        """`reader` (on `origin`'s node) has received or read `chat` up to the message `up_to`."""
        seq = await self._seq(chat, up_to)
        if seq is None:
            return  # a message this node never stored (its sender blocked here): nothing to mark
        await self._messages.advance_cursor(chat, reader, kind, seq)
        others = _others(chat, reader)
        event = Event(kind=events.RECEIPT_READ if kind == "read" else events.RECEIPT_DELIVERED, chat=chat,
                      actor=reader, recipients=(*others, reader), seq=seq, at=at, id=event_id, origin=origin)
        if kind == "read":
            await self._project(event)
        await self._publisher.publish(event)

    async def _seq(self, chat: str, ref: Ref) -> int | None:
        return await self._messages.seq_of(chat, ref.sender, ref.client_id)

    async def _find(self, chat: str, ref: Ref) -> Message | None:
        seq = await self._seq(chat, ref)
        if seq is None:
            return None
        message = await self._messages.get(chat, seq)
        return message if message is not None and message.sender == ref.sender else None

    async def _announce(self, kind: str, message: Message, *, actor: str, origin: str, event_id: str) -> None:
        event = Event(kind=kind, chat=message.chat, actor=actor, recipients=private_participants(message.chat),
                      seq=message.seq, at=message.edited_at or message.sent_at, data=message.as_wire(),
                      id=event_id, origin=origin)
        await self._project(event)
        await self._publisher.publish(event)

    async def _project(self, event: Event) -> None:
        try:
            await project(self._chat_list, event, region=self._region)
        except Exception as err:  # noqa: BLE001 - any store failure; the projector repairs it from Kafka
            logger.warning("chat list not updated directly; the projector will",
                           extra={"chat": event.chat, "error": str(err)})


def _others(chat: str, account: str) -> tuple[str, ...]:
    return tuple(p for p in private_participants(chat) if p != account)
