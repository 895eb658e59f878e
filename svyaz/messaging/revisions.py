"""Editing and deleting in chats with many readers (group messages, channel posts, comments): the
one stored document changed in place and one event to the chat's audience, whatever its size.

Deleting is for everyone only: a per-reader "hidden for me" list on one document shared by up to a
million readers would grow without bound. The sequence number stays (an empty placeholder), so
history pages keep their numbering and unread counts stay right.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from svyaz.messaging import events
from svyaz.messaging.content import clean_text, links_in
from svyaz.messaging.errors import InvalidMessage, MessageNotFound, NotAParticipant, NotYourMessage
from svyaz.messaging.model import ADMIN, MANAGERS, MEMBER, OWNER, Message
from svyaz.messaging.shared import Audience
from svyaz.messaging.writer import SequencedWriter


@dataclass(frozen=True)
class Rules:
    """Who may change a message of one kind of chat. Roles are held in the audience chat (the
    group, or the channel of a post or comment)."""

    author_roles: frozenset[str] | None   # what its author must still hold to change it; None: nothing
    moderators: frozenset[str]            # who may delete anyone's message there
    links: bool = False                   # whether the text's links are extracted (posts)
    members_only: bool = False            # outsiders learn nothing, not even whether the message exists


GROUP_MESSAGES = Rules(author_roles=frozenset({OWNER, ADMIN, MEMBER}), moderators=MANAGERS, members_only=True)
CHANNEL_POSTS = Rules(author_roles=MANAGERS, moderators=MANAGERS, links=True)
COMMENTS = Rules(author_roles=None, moderators=MANAGERS)   # anyone of the region may comment


class Revisions:
    def __init__(self, writer: SequencedWriter, audience: Audience, clock: Callable[[], float] = time.time) -> None:
        self._writer = writer
        self._audience = audience
        self._clock = clock

    async def edit(self, actor: str, *, chat: str, seq: object, text: object, audience: str, rules: Rules) -> Message:
        """The author's new text; NotYourMessage for anyone else."""
        cleaned = clean_text(text)
        async with self._writer.locked(chat):
            message = await self._live(chat, seq, actor, audience, rules)
            if message.sender != actor:
                raise NotYourMessage("only its author can edit a message")
            if rules.author_roles is not None:
                await self._audience.require(audience, actor, rules.author_roles)
            edited = replace(message, text=cleaned, edited_at=self._clock(),
                             links=links_in(cleaned) if rules.links else message.links)
            await self._writer.messages.replace(edited)
            await self._audience.tell(events.MESSAGE_EDITED, chat, actor, seq=edited.seq, data=edited.as_wire(),
                                      audience=audience, at=edited.edited_at)
        return edited

    async def delete(self, actor: str, *, chat: str, seq: object, audience: str, rules: Rules) -> Message:
        """Gone for everyone, by its author or a moderator of the audience chat."""
        async with self._writer.locked(chat):
            message = await self._live(chat, seq, actor, audience, rules)
            if message.sender == actor:
                if rules.author_roles is not None:
                    await self._audience.require(audience, actor, rules.author_roles)
            else:
                try:
                    await self._audience.require(audience, actor, rules.moderators)
                except NotAParticipant as refused:
                    raise NotYourMessage("only its author or the chat's admins can delete a message") from refused
            # A secret group's envelope goes too (its franking commitment stays for reports).
            deleted = replace(message, text="", deleted=True, edited_at=None, forwarded_from=None, links=(),
                              media=None, sealed=None)
            await self._writer.messages.replace(deleted)
            await self._audience.tell(events.MESSAGE_DELETED, chat, actor, seq=deleted.seq, data=deleted.as_wire(),
                                      audience=audience)
        return deleted

    async def _live(self, chat: str, seq: object, actor: str, audience: str, rules: Rules) -> Message:
        if rules.members_only:
            await self._audience.require(audience, actor)
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise InvalidMessage("seq must be a positive integer")
        message = await self._writer.messages.get(chat, seq)
        if message is None or message.deleted:
            raise MessageNotFound(f"{chat} has no message {seq}")
        return message
