"""`NodeHoldings`: the `SubjectHoldings` port of svyaz.compliance.lawful.collect over the node's own
store adapters, so a lawful export reads exactly what the node stores and nothing else:

    private and secret chats   the subject's chat list (`<prefix>_chatlist.entries`), then the
                               private bulkhead's messages (`MongoMessageStore`, content opened
                               with the node's key ring)
    groups                     the membership index, plus the groups the subject wrote in (a scan
                               of the groups database: it may have left them), then their messages
    channels                   the membership index (channel ids `c/...`)
    blocks, sessions           `MongoBlocks.blocked_by`, `IdentityStore.list_sessions` (revoked too)

Nothing here asks another region's node anything: a cross-border conversation contributes the
copy this node holds.
"""

from __future__ import annotations

import trio

from svyaz.identity.ports import SessionRecord
from svyaz.identity.store import IdentityStore
from svyaz.messaging.errors import InvalidMessage
from svyaz.messaging.ids import CHANNEL, GROUP, chat_kind, is_private
from svyaz.messaging.model import ChatInfo, Message
from svyaz.messaging.safety_store import MongoBlocks
from svyaz.messaging.store import MongoChatListStore, MongoMemberships, MongoMessageStore

CHAT_LIST_LIMIT = 1_000_000


class NodeHoldings:
    def __init__(self, *, chat_list: MongoChatListStore, private: MongoMessageStore, group_messages: MongoMessageStore,
                 group_members: MongoMemberships, channel_members: MongoMemberships, blocks: MongoBlocks,
                 identity: IdentityStore, limiter: trio.CapacityLimiter) -> None:
        self._chat_list = chat_list
        self._private = private
        self._group_messages = group_messages
        self._group_members = group_members
        self._channel_members = channel_members
        self._blocks = blocks
        self._identity = identity
        self._limiter = limiter

    @classmethod
    def of(cls, messaging, identity: IdentityStore, limiter: trio.CapacityLimiter) -> NodeHoldings:
        """Over a node's `svyaz.node.messaging.Messaging`."""
        return cls(chat_list=messaging.chat_list, private=messaging.private_messages,
                   group_messages=messaging.group_messages, group_members=messaging.group_members,
                   channel_members=messaging.channel_members, blocks=messaging.blocks, identity=identity,
                   limiter=limiter)

    async def private_chats(self, subject: str) -> list[str]:
        entries = await self._chat_list.list(subject, limit=CHAT_LIST_LIMIT)
        return sorted({entry.chat for entry in entries if is_private(entry.chat)})

    async def groups(self, subject: str) -> list[tuple[str, str | None]]:
        member_of = {chat for chat in await self._group_members.chats_of(subject) if _kind(chat) == GROUP}
        wrote_in = {chat for chat in await self._group_messages.chats_written_by(subject) if _kind(chat) == GROUP}
        found = []
        for chat in sorted(member_of | wrote_in):
            # The index may lag a removal; the member document is the truth.
            found.append((chat, await self._group_members.role(chat, subject)))
        return found

    async def group_info(self, chat: str) -> ChatInfo | None:
        return await self._group_members.info(chat)

    async def group_members(self, chat: str, *, limit: int) -> list[tuple[str, str]]:
        return await self._group_members.members(chat, limit=limit)

    async def messages(self, chat: str, since: float, until: float) -> list[Message]:
        store = self._private if is_private(chat) else self._group_messages
        return await store.sent_between(chat, since, until)

    async def channels(self, subject: str) -> list[tuple[str, str]]:
        found = []
        for chat in sorted(chat for chat in await self._channel_members.chats_of(subject) if _kind(chat) == CHANNEL):
            role = await self._channel_members.role(chat, subject)
            if role is not None:
                found.append((chat, role))
        return found

    async def channel_info(self, chat: str) -> ChatInfo | None:
        return await self._channel_members.info(chat)

    async def blocked_by(self, subject: str) -> list[str]:
        return await self._blocks.blocked_by(subject)

    async def sessions(self, subject: str) -> list[SessionRecord]:
        return await trio.to_thread.run_sync(lambda: self._identity.list_sessions(subject, include_revoked=True),
                                             limiter=self._limiter)


def _kind(chat: str) -> str | None:
    try:
        return chat_kind(chat)
    except InvalidMessage:  # a malformed id in an index is skipped, not fatal to the export
        return None
