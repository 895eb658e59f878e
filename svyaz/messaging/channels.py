"""Channels: an owner (and its admins) post; anyone in the region reads and subscribes; a post
has a comment thread.

**Across borders** people of other regions subscribe too. The channel's home node (the region in
its id) numbers posts and comments and keeps the subscriptions; each region with subscribers keeps
one copy of every post made after its first subscription (`svyaz.messaging.shared_replica`), from
which its subscribers read. Subscribing, posting, commenting, editing and deleting from abroad are
run on the home node (`HomeNode`).

Designed for 1,000,000 subscribers: a post is ONE stored document and ONE event addressed to the
channel, whatever the subscriber count; gateways push it to the subscribers they hold. Unread
counts are the channel's head minus a subscriber's read cursor. A post's comments are a chat of
their own (`<channel>/p/<seq>`) with its own sequence, so the comment count is that chat's head.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from svyaz.messaging import events
from svyaz.messaging.content import clean_text, clean_title, links_in
from svyaz.messaging.errors import InvalidMessage, MessageNotFound, NotAParticipant
from svyaz.messaging.ids import CHANNEL, chat_kind, check_client_id, comments_chat_id, new_channel_id, thread_of
from svyaz.messaging.model import MANAGERS, OWNER, SUBSCRIBER, ChatInfo, Message
from svyaz.messaging.paging import page_range
from svyaz.messaging.ports import EventPublisher, HomeNode, Memberships
from svyaz.messaging.ratelimit import RateLimiter
from svyaz.messaging.revisions import CHANNEL_POSTS, COMMENTS, Revisions, Rules
from svyaz.messaging.shared import Audience, Homes
from svyaz.messaging.writer import SequencedWriter

MEDIA_REF_CHARS = 200


@dataclass(frozen=True)
class Post:
    message: Message
    comments: int


class Channels:
    def __init__(self, *, region: str, writer: SequencedWriter, memberships: Memberships,
                 publisher: EventPublisher, send_limit: RateLimiter | None = None,
                 peers: frozenset[str] = frozenset(), home: HomeNode | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        """`peers` and `home`: the regions whose people may subscribe, and how changes to channels
        homed there reach their home nodes."""
        self._region = region
        self._homes = Homes(region, peers, home)
        self._writer = writer
        self._memberships = memberships
        self._audience = Audience(memberships, publisher, clock)
        self._send_limit = send_limit
        self._clock = clock
        self._revisions = Revisions(writer, self._audience, clock)

    async def create(self, owner: str, *, title: object) -> ChatInfo:
        info = ChatInfo(chat=new_channel_id(self._region), kind=CHANNEL, title=clean_title(title), owner=owner,
                        created_at=self._clock())
        await self._memberships.create(info)
        await self._memberships.set_role(info.chat, owner, OWNER)
        await self._audience.member_changed(info.chat, owner, owner, OWNER, tell_chat=False)
        return info

    async def subscribe(self, account: str, *, channel: str) -> ChatInfo:
        if chat_kind(channel) == CHANNEL and self._homes.abroad(channel):
            return ChatInfo.from_wire((await self._homes.run(channel, account, "subscribe"))["info"])
        info = await self._existing(channel)
        if await self._memberships.role(channel, account) is None:
            await self._memberships.set_role(channel, account, SUBSCRIBER)
            await self._audience.member_changed(channel, account, account, SUBSCRIBER, tell_chat=False)
        return info

    async def unsubscribe(self, account: str, *, channel: str) -> bool:
        if chat_kind(channel) == CHANNEL and self._homes.abroad(channel):
            await self._audience.require(channel, account)
            return (await self._homes.run(channel, account, "unsubscribe"))["removed"]
        if await self._memberships.role(channel, account) == OWNER:
            raise InvalidMessage("the owner cannot unsubscribe from its channel")
        removed = await self._memberships.remove(channel, account)
        if removed:
            await self._audience.member_changed(channel, account, account, None, tell_chat=False)
        return removed

    async def post(self, actor: str, *, channel: str, text: object, client_id: object,
                   media: object = None) -> Message:
        cleaned = clean_text(text)
        if media is not None and (not isinstance(media, str) or not 0 < len(media) <= MEDIA_REF_CHARS):
            raise InvalidMessage(f"a media reference is a string of 1 to {MEDIA_REF_CHARS} characters")
        if self._send_limit is not None:
            self._send_limit.take(actor, "posts")
        await self._audience.require(channel, actor, MANAGERS)
        if self._homes.abroad(channel):
            return await self._homes.message(channel, actor, "post", text=cleaned, client_id=client_id, media=media)
        draft = Message(chat=channel, seq=0, sender=actor, client_id=check_client_id(client_id), text=cleaned,
                        sent_at=self._clock(), links=links_in(cleaned), media=media)
        message = await self._writer.store(draft, then=lambda stored: self._audience.tell(
            events.MESSAGE_CREATED, channel, actor, seq=stored.seq, data=stored.as_wire(), at=stored.sent_at))
        return message

    async def edit(self, account: str, *, chat: str, seq: object, text: object) -> Message:
        """A new text for a post (by its author, still an owner or admin) or a comment (by its author)."""
        channel, rules = self._rules_for(chat)
        if self._homes.abroad(channel):
            return await self._homes.message(channel, account, "edit", chat=chat, seq=seq, text=clean_text(text))
        return await self._revisions.edit(account, chat=chat, seq=seq, text=text, audience=channel, rules=rules)

    async def delete(self, account: str, *, chat: str, seq: object) -> Message:
        """A post or comment gone for everyone; by its author, or the channel's owner or admins.
        A deleted post keeps its comment thread's number; its comments stay readable."""
        channel, rules = self._rules_for(chat)
        if self._homes.abroad(channel):
            return await self._homes.message(channel, account, "delete", chat=chat, seq=seq)
        return await self._revisions.delete(account, chat=chat, seq=seq, audience=channel, rules=rules)

    async def posts(self, account: str, *, channel: str, before: int | None = None, after: int | None = None,
                    limit: int = 20) -> list[Post]:
        """A page of posts with their comment counts; public: any account of the region reads."""
        await self._existing(channel)
        seqs = page_range(await self._writer.messages.head(channel), before=before, after=after, limit=limit)
        page = await self._writer.messages.page(channel, seqs)
        return [Post(message, await self._writer.messages.head(comments_chat_id(channel, message.seq)))
                for message in page]

    async def comment(self, account: str, *, thread: str, text: object, client_id: object,
                      reply_to: int | None = None) -> Message:
        channel, post_seq = self._thread(thread)
        cleaned = clean_text(text)
        if self._send_limit is not None:
            self._send_limit.take(account, "comments")
        if await self._writer.messages.get(channel, post_seq) is None:
            raise MessageNotFound(f"{channel} has no post {post_seq}")
        if self._homes.abroad(channel):
            return await self._homes.message(channel, account, "comment", thread=thread, text=cleaned,
                                             client_id=client_id, reply_to=reply_to)
        if reply_to is not None and await self._writer.messages.get(thread, reply_to) is None:
            raise MessageNotFound(f"the thread has no comment {reply_to}")
        draft = Message(chat=thread, seq=0, sender=account, client_id=check_client_id(client_id), text=cleaned,
                        sent_at=self._clock(), reply_to=reply_to)
        # Subscribers online see the post's count change; the thread's readers see the comment.
        message = await self._writer.store(draft, then=lambda stored: self._audience.tell(
            events.MESSAGE_CREATED, thread, account, seq=stored.seq, data=stored.as_wire(), audience=channel,
            at=stored.sent_at))
        return message

    async def comments(self, account: str, *, thread: str, before: int | None = None, after: int | None = None,
                       limit: int = 50) -> list[Message]:
        """A page of a post's comments; without before/after, the newest ("scroll to the last")."""
        channel, _ = self._thread(thread)
        await self._existing(channel)
        seqs = page_range(await self._writer.messages.head(thread), before=before, after=after, limit=limit)
        return [m for m in await self._writer.messages.page(thread, seqs) if m.visible_to(account)]

    async def mark(self, account: str, *, channel: str, seq: int) -> int:
        await self._audience.require(channel, account)
        if not 0 < seq <= await self._writer.messages.head(channel):
            raise MessageNotFound(f"{channel} has no post {seq}")
        await self._writer.messages.advance_cursor(channel, account, "read", seq)
        await self._audience.tell(events.RECEIPT_READ, channel, account, seq=seq, audience="")
        return seq

    @staticmethod
    def _rules_for(chat: str) -> tuple[str, Rules]:
        """(the channel, the rules) for a post's channel or a comment thread."""
        if chat_kind(chat) == CHANNEL:
            return chat, CHANNEL_POSTS
        channel, _ = thread_of(chat)
        return channel, COMMENTS

    async def _existing(self, channel: str) -> ChatInfo:
        info = await self._memberships.info(channel) if chat_kind(channel) == CHANNEL else None
        if info is None:
            raise NotAParticipant("there is no such channel")
        return info

    @staticmethod
    def _thread(thread: object) -> tuple[str, int]:
        if not isinstance(thread, str):
            raise InvalidMessage('"thread" must be a comment thread id (<channel>/p/<seq>)')
        return thread_of(thread)
