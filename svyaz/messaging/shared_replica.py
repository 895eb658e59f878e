"""This region's copy of a group or channel homed in another region (federation).

The home node numbers the chat's messages (a channel's posts, and each post's comments) and decides
its membership; it sends each change to every region with members. Here the change is stored as the
home made it (a message at the home's sequence number, a member with the home's role) and announced
as a local event marked with its `origin`, so this node's members are told by its gateways and read
the history from its own store. Every change is idempotent: a message is unique by its seq, a role
is set, a removal is a removal. One replica per bulkhead: groups, and channels with their comments.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
import time

from svyaz.messaging import events
from svyaz.messaging.events import Event
from svyaz.messaging.ids import CHANNEL, COMMENTS, chat_kind, thread_of
from svyaz.messaging.model import ChatInfo, Message
from svyaz.messaging.ports import EventPublisher, Memberships, MessageStore

logger = logging.getLogger("svyaz.messaging.shared_replica")


class SharedChatReplica:
    def __init__(self, *, memberships: Memberships, messages: MessageStore, publisher: EventPublisher,
                 clock: Callable[[], float] = time.time) -> None:
        self._memberships = memberships
        self._messages = messages
        self._publisher = publisher
        self._clock = clock

    async def member_changed(self, origin: str, info: ChatInfo, *, actor: str, account: str, role: str | None,
                             event_id: str, members: tuple[tuple[str, str], ...] | None = None) -> None:
        """`account` joined `info.chat` with `role`, changed to it, or (`role` None) left. `members`,
        the whole list as the home has it, comes with the first member of this region."""
        if await self._memberships.info(info.chat) is None:
            await self._memberships.create(info)
        for member, member_role in members or ():
            if await self._memberships.role(info.chat, member) != member_role:
                await self._memberships.set_role(info.chat, member, member_role)
        if role is None:
            await self._memberships.remove(info.chat, account)
        else:
            await self._memberships.set_role(info.chat, account, role)
        kind = events.MEMBER_ADDED if role else events.MEMBER_REMOVED
        # A channel's subscribers do not see each other come and go (as `Audience.member_changed`).
        audience = "" if chat_kind(info.chat) == CHANNEL else info.chat
        await self._publisher.publish(Event(
            kind=kind, chat=info.chat, actor=actor, recipients=(account, actor), audience=audience, at=self._clock(),
            data={"account": account, **({"role": role} if role else {})}, id=event_id, origin=origin))

    async def message(self, origin: str, kind: str, message: Message, *, actor: str, event_id: str) -> None:
        """A message the home stored (created) or changed (edited, deleted), at the home's seq."""
        if kind == events.MESSAGE_CREATED:
            outcome = await self._messages.insert(message)
            if outcome.seq_taken:
                logger.error("a group message arrived at a seq another message holds here; kept the first",
                             extra={"chat": message.chat[:80], "seq": message.seq, "origin": origin})
                return
        else:
            await self._messages.replace(message)
        at = message.edited_at or message.sent_at
        # A comment is told to the channel's subscribers, as on the home node.
        audience = thread_of(message.chat)[0] if chat_kind(message.chat) == COMMENTS else message.chat
        await self._publisher.publish(Event(kind=kind, chat=message.chat, actor=actor, recipients=(actor,),
                                            audience=audience, seq=message.seq, at=at, data=message.as_wire(),
                                            id=event_id, origin=origin))
