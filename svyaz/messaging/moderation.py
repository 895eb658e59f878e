"""Blocks, reports and presence: the use cases behind `block.*`, `report.create`,
`moderation.review` and `presence.get`.

Presence honours two settings of the person looked at: its profile's `presence` audience
(everyone, contacts - accounts it has a private chat with - or nobody), and its blocks (a blocked
account sees nothing). Presence is written by the gateways when an account's first connection to
one of them opens and its last one closes; an account connected to two gateways at once shows
offline after leaving one of them until it next connects (kept simple on purpose; docs/messaging.md).
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

from svyaz.e2e.franking import is_genuine

from svyaz.messaging.channels import Channels
from svyaz.messaging.errors import InvalidMessage, MessageNotFound, ReportNotGenuine
from svyaz.messaging.groups import GroupChats
from svyaz.messaging.ids import CHANNEL, COMMENTS, GROUP, GROUP_PREFIX, chat_kind, is_secret, private_chat_id
from svyaz.messaging.model import Message
from svyaz.messaging.ports import BlockStore, ChatListStore, PresenceStore, ReportStore
from svyaz.messaging.safety import MAX_EVIDENCE, Report, checked_account, new_report
from svyaz.messaging.service import PrivateChats

# (reader, chat, seq) -> the message as that reader may see it, or MessageNotFound / NotAParticipant
ReadOne = Callable[[str, str, int], Awaitable[Message]]
# account -> its profile's presence audience: "everyone", "contacts" or "nobody"
PresenceAudience = Callable[[str], Awaitable[str]]


# (blocker, blocked, now blocking?) -> told to the blocked account's home node when it is abroad,
# which then refuses the blocked account's sends up front (federation; NotPublished if not told).
BlockRelay = Callable[[str, str, bool], Awaitable[None]]


class Moderation:
    def __init__(self, *, blocks: BlockStore, reports: ReportStore, read_one: ReadOne,
                 relay: BlockRelay | None = None, clock: Callable[[], float] = time.time) -> None:
        self._blocks = blocks
        self._reports = reports
        self._read_one = read_one
        self._relay = relay
        self._clock = clock

    async def block(self, account: str, target: object) -> str:
        """Stored here first, where it already takes effect; then told abroad. A block that could
        not be told raises NotPublished: blocking again (idempotent) tells it again."""
        blocked = checked_account(target, besides=account)
        await self._blocks.add(account, blocked, self._clock())
        await self._tell(account, blocked, True)
        return blocked

    async def unblock(self, account: str, target: object) -> bool:
        unblocked = checked_account(target, besides=account)
        removed = await self._blocks.remove(account, unblocked)
        await self._tell(account, unblocked, False)
        return removed

    async def _tell(self, blocker: str, blocked: str, blocking: bool) -> None:
        if self._relay is not None and blocked.rpartition(":")[2] != blocker.rpartition(":")[2]:
            await self._relay(blocker, blocked, blocking)

    async def blocked(self, account: str) -> list[str]:
        return await self._blocks.blocked_by(account)

    async def report(self, reporter: str, *, account: object, reason: object, note: object = None,
                     messages: Sequence[dict[str, Any]] = ()) -> Report:
        reported = checked_account(account, besides=reporter)
        if len(messages) > MAX_EVIDENCE:
            raise InvalidMessage(f"at most {MAX_EVIDENCE} messages in one report")
        evidence = []
        for ref in messages:
            if not isinstance(ref, dict) or not isinstance(ref.get("chat"), str) or not isinstance(ref.get("seq"), int):
                raise InvalidMessage('each reported message is {"chat": ..., "seq": ...}')
            evidence.append(await self._read_one(reporter, ref["chat"], ref["seq"]))
        report = new_report(reporter, reported, reason, note, evidence, self._clock)
        await self._reports.add(report)
        return report

    async def report_secret(self, reporter: str, *, chat: object, seq: object, text: object, franking_key: object,
                            reason: object, note: object = None) -> Report:
        """Report one secret message by revealing it: accepted only if the text and franking key
        open the commitment stored with the message (svyaz.e2e.franking), so the node learns that
        message and nothing else, and nobody can pin words on a sender who never wrote them."""
        # A secret group's messages (g/...) carry a commitment too; a plain group's do not, and are refused below.
        secret_or_group = is_secret(chat) or (isinstance(chat, str) and chat.startswith(GROUP_PREFIX))
        if not secret_or_group or not isinstance(seq, int) or not isinstance(text, str):
            raise InvalidMessage('give the secret chat ("chat"), the message\'s "seq" and its revealed "text"')
        message = await self._read_one(reporter, chat, seq)
        sender = checked_account(message.sender, besides=reporter)
        if message.franking is None:
            raise InvalidMessage(f"{chat} message {seq} carries no franking commitment")
        if not is_genuine(base64.b64decode(message.franking), _franking_key(franking_key), chat=chat, sender=sender,
                          text=text):
            raise ReportNotGenuine("the revealed text and franking key do not match what was sent; report refused")
        revealed = replace(message, text=text, sealed=None)
        report = new_report(reporter, sender, reason, note, [revealed], self._clock)
        await self._reports.add(report)
        return report

    async def open_reports(self, *, limit: int = 50) -> list[Report]:
        return await self._reports.open(limit=max(1, min(int(limit), 200)))


def _franking_key(value: object) -> bytes:
    if not isinstance(value, str):
        raise InvalidMessage('"franking_key" must be a base64 string')
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise InvalidMessage('"franking_key" is not valid base64') from None


class Presence:
    def __init__(self, *, store: PresenceStore, blocks: BlockStore, audience: PresenceAudience,
                 chat_list: ChatListStore) -> None:
        self._store = store
        self._blocks = blocks
        self._audience = audience
        self._chat_list = chat_list

    async def seen_by(self, viewer: str, account: object) -> dict[str, Any]:
        """What `viewer` may know of `account`'s presence: `online` and `last_seen`, or `visible: false`."""
        target = checked_account(account, besides=viewer)
        if not await self._visible_to(viewer, target):
            return {"account": target, "visible": False}
        known = await self._store.get(target)
        if known is None:
            return {"account": target, "visible": True, "online": False, "last_seen": None}
        online, at = known
        return {"account": target, "visible": True, "online": online, "last_seen": None if online else at}

    async def _visible_to(self, viewer: str, target: str) -> bool:
        if await self._blocks.blocks(target, viewer):
            return False
        audience = await self._audience(target)
        if audience == "everyone":
            return True
        if audience == "contacts":
            return await self._chat_list.get(target, private_chat_id(target, viewer)) is not None
        return False


class MessageReader:
    """A `ReadOne`: the message a reporter points at, read with the reporter's own rights (so a
    report can only carry messages its author could see)."""

    def __init__(self, private: PrivateChats, groups: GroupChats, channels: Channels) -> None:
        self._private = private
        self._groups = groups
        self._channels = channels

    async def __call__(self, reader: str, chat: str, seq: int) -> Message:
        kind = chat_kind(chat)
        if kind == GROUP:
            page = await self._groups.history(reader, chat=chat, after=seq - 1, limit=1)
        elif kind == CHANNEL:
            page = [post.message for post in await self._channels.posts(reader, channel=chat, after=seq - 1, limit=1)]
        elif kind == COMMENTS:
            page = await self._channels.comments(reader, thread=chat, after=seq - 1, limit=1)
        else:
            page = await self._private.history(reader, chat=chat, after=seq - 1, limit=1)
        if not page or page[0].seq != seq:
            raise MessageNotFound(f"{chat} has no message {seq} you can see")
        return page[0]
