"""Private chats: send, reply, forward, edit, delete, history, receipts, typing, the chat list.

A send is acknowledged with its sequence number only after the message is stored and its event
acknowledged by Kafka. Events are published within the chat's turn (see `writer`), so a chat's
events reach Kafka in the order its changes were stored. The client's message id makes a resend return the stored message (and
publish its event again) instead of storing a second one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace

from svyaz.identity.accounts import parse_account_id
from svyaz.identity.errors import MalformedAccountId
from svyaz.messaging import events
from svyaz.messaging.chatlist import ChatListEntry
from svyaz.messaging.chatlist_writer import project
from svyaz.messaging.content import clean_sealed, clean_text, envelope_escrow
from svyaz.messaging.errors import (
    Blocked,
    InvalidMessage,
    MessageNotFound,
    NotAParticipant,
    NotYourMessage,
    UnknownRecipient,
    Unreachable,
)
from svyaz.messaging.events import Event
from svyaz.messaging.ids import check_client_id, is_secret, private_chat_id, private_participants
from svyaz.messaging.model import Message
from svyaz.messaging.paging import page_range
from svyaz.messaging.ports import AccountDirectory, BlockStore, ChatListStore, EventPublisher, MessageStore
from svyaz.messaging.ratelimit import RateLimiter
from svyaz.messaging.secret_policy import SecretChatPolicy
from svyaz.messaging.writer import SequencedWriter

logger = logging.getLogger("svyaz.messaging.service")



class PrivateChats:
    def __init__(self, *, region: str, messages: MessageStore, chat_list: ChatListStore,
                 publisher: EventPublisher, directory: AccountDirectory,
                 send_limit: RateLimiter | None = None, blocks: BlockStore | None = None,
                 secret_policy: SecretChatPolicy = SecretChatPolicy(),
                 peers: frozenset[str] = frozenset(), writer: SequencedWriter | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        """`peers`: the regions this node federates with; a private chat may have its other
        participant there. `writer`: shared with the chats' arrivals from those regions."""
        self._region = region
        self._peers = peers
        self._messages = messages
        self._chat_list = chat_list
        self._publisher = publisher
        self._directory = directory
        self._clock = clock
        self._send_limit = send_limit
        self._blocks = blocks
        self._secret_policy = secret_policy
        self._writer = writer or SequencedWriter(messages)

    # --- sending ----------------------------------------------------------------------------------

    async def send(self, sender: str, *, to: str, text: object, client_id: object,
                   reply_to: int | None = None) -> Message:
        cleaned = clean_text(text)
        self._spend(sender)
        chat = await self._chat_with(sender, to)
        if reply_to is not None:
            await self._existing(chat, reply_to, sender)
        return await self._store_and_publish(chat, sender, check_client_id(client_id), cleaned, reply_to=reply_to)

    async def send_sealed(self, sender: str, *, chat: str, sealed: object, franking: object,
                          client_id: object) -> Message:
        """A secret chat's message: stored and relayed as the sender's device sealed it, once its
        envelope has the shape, and the escrow wrap, the region's policy asks for."""
        if not is_secret(chat):
            raise InvalidMessage("sealed messages go to a secret chat (sc/...) or a secret group (g/...)")
        (recipient,) = self._participant(chat, sender)
        envelope, commitment = clean_sealed(sealed, franking)
        self._secret_policy.check_escrow(envelope_escrow(envelope))
        self._spend(sender)
        await self._check_recipient(sender, recipient)
        return await self._store_and_publish(chat, sender, check_client_id(client_id), "", sealed=envelope,
                                             franking=commitment)

    async def forward(self, sender: str, *, to: str, from_chat: str, seq: int, client_id: object) -> Message:
        self._spend(sender)
        original = await self._existing(from_chat, seq, sender)
        if original.deleted:
            raise MessageNotFound("that message was deleted")
        if original.sealed is not None:
            raise InvalidMessage("a secret message cannot be forwarded through the node, which cannot read it")
        chat = await self._chat_with(sender, to)
        return await self._store_and_publish(chat, sender, check_client_id(client_id), original.text,
                                             forwarded_from=original.forwarded_from or original.sender)

    async def _store_and_publish(self, chat: str, sender: str, client_id: str, text: str, **extra) -> Message:
        draft = Message(chat=chat, seq=0, sender=sender, client_id=client_id, text=text, sent_at=self._clock(),
                        **extra)
        return await self._writer.store(
            draft, then=lambda message: self._announce(events.MESSAGE_CREATED, message, actor=sender))

    # --- changing a sent message ------------------------------------------------------------------

    async def edit(self, account: str, *, chat: str, seq: int, text: object) -> Message:
        if is_secret(chat):
            raise InvalidMessage("secret messages cannot be edited: the node cannot read or change them")
        cleaned = clean_text(text)
        async with self._writer.locked(chat):
            message = await self._own(chat, seq, account)
            edited = replace(message, text=cleaned, edited_at=self._clock())
            await self._messages.replace(edited)
            await self._announce(events.MESSAGE_EDITED, edited, actor=account)
        return edited

    async def delete(self, account: str, *, chat: str, seq: int, for_everyone: bool) -> None:
        """For everyone (the sender only): the text is gone for both, the sequence number stays.
        For oneself: hidden from one's own history only."""
        async with self._writer.locked(chat):
            if for_everyone:
                message = await self._own(chat, seq, account)
                # The franking commitment stays: it reveals nothing, and a deleted message may still be reported.
                changed = replace(message, text="", sealed=None, deleted=True, edited_at=None, forwarded_from=None)
            else:
                message = await self._existing(chat, seq, account)
                changed = replace(message, hidden_for=tuple(sorted({*message.hidden_for, account})))
            await self._messages.replace(changed)
            if for_everyone:
                await self._announce(events.MESSAGE_DELETED, changed, actor=account)

    # --- reading ----------------------------------------------------------------------------------

    async def history(self, account: str, *, chat: str, before: int | None = None, after: int | None = None,
                      limit: int = 50) -> list[Message]:
        """Up to `limit` messages older than `before` (default: the newest), or newer than
        `after`, ascending. Deleted-for-everyone messages stay as placeholders; messages the
        account deleted for itself are left out."""
        self._participant(chat, account)
        seqs = page_range(await self._messages.head(chat), before=before, after=after, limit=limit)
        page = await self._messages.page(chat, seqs)
        return [message for message in page if message.visible_to(account)]

    async def chats(self, account: str, *, limit: int = 100) -> list[ChatListEntry]:
        return await self._chat_list.list(account, limit=max(1, min(int(limit), 500)))

    async def mark(self, account: str, *, chat: str, seq: int, kind: str) -> int:
        """A delivery or read receipt up to `seq`; returns the position recorded."""
        others = self._participant(chat, account)
        head = await self._messages.head(chat)
        if not 0 < seq <= head:
            raise MessageNotFound(f"{chat} has no message {seq}")
        await self._messages.advance_cursor(chat, account, kind, seq)
        kind_event = events.RECEIPT_READ if kind == "read" else events.RECEIPT_DELIVERED
        event = Event(kind=kind_event, chat=chat, actor=account, recipients=(*others, account), seq=seq,
                      at=self._clock())
        if kind == "read":
            await self._project_directly(event)
        await self._publisher.publish(event)
        return seq

    async def typing(self, account: str, *, chat: str) -> None:
        others = self._participant(chat, account)
        await self._publisher.publish(Event(kind=events.TYPING, chat=chat, actor=account, recipients=others,
                                            at=self._clock()))

    # --- helpers ----------------------------------------------------------------------------------

    def _spend(self, sender: str) -> None:
        if self._send_limit is not None:
            self._send_limit.take(sender)

    async def _chat_with(self, sender: str, to: object) -> str:
        if not isinstance(to, str):
            raise InvalidMessage('"to" must be an account id like @bob:ru')
        return private_chat_id(sender, await self._check_recipient(sender, to))

    async def _check_recipient(self, sender: str, to: str) -> str:
        """`to`, checked to be another account, of this region or a federated one, that accepts
        `sender`'s messages. An account abroad is checked against what its home node told this one:
        its blocks of `sender` arrive by federation."""
        try:
            recipient = parse_account_id(to)
        except MalformedAccountId as err:
            raise InvalidMessage(str(err), hint=err.hint) from None
        if str(recipient) == sender:
            raise InvalidMessage("a private chat needs two people; write to someone else")
        if recipient.region != self._region and recipient.region not in self._peers:
            raise Unreachable(f"{recipient} lives in region {recipient.region}, which this node does not "
                              "federate with")
        if not await self._directory.exists(str(recipient)):
            raise UnknownRecipient(f"there is no account {recipient}")
        if self._blocks is not None and await self._blocks.blocks(str(recipient), sender):
            raise Blocked(f"{recipient} does not accept your messages")
        return str(recipient)

    def _participant(self, chat: str, account: str) -> tuple[str, ...]:
        """The other participants of `chat`; NotAParticipant unless `account` is one."""
        try:
            participants = private_participants(chat)
        except InvalidMessage:
            raise NotAParticipant("you are not in that chat") from None
        if account not in participants:
            raise NotAParticipant("you are not in that chat")
        return tuple(p for p in participants if p != account)

    async def _existing(self, chat: str, seq: object, account: str) -> Message:
        self._participant(chat, account)
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise InvalidMessage("seq must be a positive integer")
        message = await self._messages.get(chat, seq)
        if message is None or not message.visible_to(account):
            raise MessageNotFound(f"{chat} has no message {seq}")
        return message

    async def _own(self, chat: str, seq: object, account: str) -> Message:
        message = await self._existing(chat, seq, account)
        if message.sender != account:
            raise NotYourMessage("only its sender can change a message")
        if message.deleted:
            raise MessageNotFound("that message was deleted")
        return message

    async def _announce(self, kind: str, message: Message, *, actor: str) -> None:
        others = self._participant(message.chat, actor)
        event = Event(kind=kind, chat=message.chat, actor=actor, recipients=(*others, actor), seq=message.seq,
                      at=message.edited_at or message.sent_at, data=message.as_wire())
        await self._project_directly(event)
        await self._publisher.publish(event)

    async def _project_directly(self, event: Event) -> None:
        """The writer's path to the chat list (seed ADR-1). A failure here is not the sender's
        problem: the projector applies the same event from Kafka."""
        try:
            await project(self._chat_list, event, region=self._region)
        except Exception as err:  # noqa: BLE001 - any store failure; the Kafka path repairs it
            logger.warning("chat list not updated directly; the projector will",
                           extra={"chat": event.chat, "error": str(err)})
