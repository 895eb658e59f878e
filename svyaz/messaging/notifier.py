"""The offline notifier: a push per message per device of each recipient who is not online.

Private chats and groups of up to `group_push_limit` members (by the group's member count, a
point read): one push per device of each offline member. Larger groups and channels: ONE push per message addressed to the chat's topic (what FCM
topics and APNs broadcast pushes are for: devices subscribe to the chats they follow and the push
service fans out), so a post to a million subscribers stays one record here, like its one stored
document. Comments are not pushed.

It reads the message events in the consumer group `<prefix>notifier`: Kafka gives each
partition to exactly one member of a group, so each message is handled by exactly one active
notifier, and another takes over (from the last committed offset) if it stops. This is the
seed's "one active notifier" (ZooKeeper leader election there) without a single point of
contention: add node processes and the partitions spread over them.

A push is recorded under `<message id>|<device>` before it is sent: a record already there means
it was sent (or is being sent) once, so a replay after a crash sends nothing twice. The sender is
pluggable; development uses `FilePushSender` (a JSON line per push), production an APNs/FCM/RuStore
gateway behind the same port. Pushes carry no message text: only the chat and the sender, which
the device then fetches over its own authenticated connection.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import trio

from svyaz.messaging import events
from svyaz.messaging.bus import EventStream
from svyaz.messaging.errors import MessagingError, StoreUnavailable
from svyaz.messaging.ids import CHANNEL, GROUP, PRIVATE, chat_kind, message_id
from svyaz.messaging.ports import PresenceStore

logger = logging.getLogger("svyaz.messaging.notifier")
_RETRY_MAX_S = 5.0

# account -> its devices (active session ids)
DevicesOf = Callable[[str], Awaitable[list[str]]]
# (group, limit) -> up to `limit` of its accounts
MembersOf = Callable[[str, int], Awaitable[list[str]]]
# group -> how many members it has
GroupSize = Callable[[str], Awaitable[int]]


@dataclass(frozen=True)
class Push:
    """To one device of one account, or (`topic`) to every device following a chat."""

    account: str | None
    device: str | None
    chat: str
    seq: int
    sender: str
    at: float
    topic: str | None = None


def chat_topic(chat: str) -> str:
    return f"chat:{chat}"


class PushSender(Protocol):
    async def send(self, push: Push) -> None: ...


class PushLedger(Protocol):
    async def claim(self, push: Push) -> bool:
        """Record `push`; False if it was recorded before (already sent once)."""


class FilePushSender:
    """Development sender: appends each push as a JSON line to a file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def send(self, push: Push) -> None:
        line = json.dumps(asdict(push), ensure_ascii=False) + "\n"
        await trio.to_thread.run_sync(self._append, line)

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as file:
            file.write(line)


class Notifier:
    def __init__(self, *, presence: PresenceStore, devices_of: DevicesOf, ledger: PushLedger,
                 sender: PushSender, members_of: MembersOf | None = None, group_size: GroupSize | None = None,
                 group_push_limit: int = 1000) -> None:
        """`group_size(group)`: its member count (one point read); `members_of(group, limit)`: up to
        `limit` of its accounts, asked only of groups within the limit (a listing is a scan on
        FerretDB, ADR 0003)."""
        self._presence = presence
        self._devices_of = devices_of
        self._ledger = ledger
        self._sender = sender
        self._members_of = members_of
        self._group_size = group_size
        self._group_push_limit = group_push_limit
        self.sent = 0

    async def serve(self, stream: EventStream, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async for record in stream:
            event = record.event
            if event.kind == events.MESSAGE_CREATED:
                await self._until_done(event)
            stream.done(record)

    async def _until_done(self, event: events.Event) -> None:
        delay = 0.1
        while True:
            try:
                await self.notify(event)
                return
            except StoreUnavailable as err:
                logger.warning("push not recorded; retrying", extra={"chat": event.chat, "error": str(err)})
                await trio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX_S)
            except MessagingError as err:
                logger.error("push skipped", extra={"chat": event.chat[:80], "error": str(err)})
                return

    async def notify(self, event: events.Event) -> None:
        kind = chat_kind(event.chat)
        if kind == PRIVATE:
            await self._to_accounts(event, event.recipients)
        elif kind == GROUP and self._members_of is not None and self._group_size is not None:
            if await self._group_size(event.chat) <= self._group_push_limit:
                await self._to_accounts(event, await self._members_of(event.chat, self._group_push_limit))
            else:
                await self._to_topic(event)
        elif kind == CHANNEL:
            await self._to_topic(event)

    async def _to_topic(self, event: events.Event) -> None:
        await self._once(Push(account=None, device=None, chat=event.chat, seq=event.seq, sender=event.actor,
                              at=event.at, topic=chat_topic(event.chat)))

    async def _once(self, push: Push) -> None:
        if await self._ledger.claim(push):
            await self._sender.send(push)
            self.sent += 1

    async def _to_accounts(self, event: events.Event, accounts: Iterable[str]) -> None:
        for account in accounts:
            if account == event.actor:
                continue
            known = await self._presence.get(account)
            if known is not None and known[0]:
                continue  # online: the gateway delivered it live
            for device in await self._devices_of(account):
                await self._once(Push(account=account, device=device, chat=event.chat, seq=event.seq,
                                      sender=event.actor, at=event.at))


def push_key(push: Push) -> str:
    return f"{message_id(push.chat, push.seq)}|{push.device or push.topic}"
