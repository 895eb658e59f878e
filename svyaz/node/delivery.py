"""Live delivery: every gateway reads the message events and pushes each to the connections it
holds for the event's recipients and audience (local fan-out; nothing is routed between gateways).

An event of a private chat names its recipients. An event of a group or channel names its
audience (the group or channel): the gateway keeps, for the accounts connected here, which chats
they belong to (read once per account at attach, then kept current by membership events), so a
post to a million subscribers costs each gateway one lookup in a dictionary.

Each connection registers an outbox (a bounded memory channel its own task drains into the
WebSocket). A connection that falls `outbox_size` events behind is told to go: it reconnects and
catches up from history, while the feed never waits for one slow client.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import trio

from svyaz.messaging import events
from svyaz.messaging.bus import EventStream
from svyaz.messaging.events import Event
from svyaz.node.frames import Frame

logger = logging.getLogger("svyaz.node.delivery")

ChatsOf = Callable[[str], Awaitable[list[str]]]
Presence = Callable[[str], Awaitable[None]]


_DEPARTURE_TIMEOUT_S = 2.0
_LOOKUP_TIMEOUT_S = 2.0


async def _tell(hook: Presence | None, account: str) -> None:
    if hook is None:
        return
    try:
        with trio.fail_after(_LOOKUP_TIMEOUT_S):
            await hook(account)
    except Exception as err:  # noqa: BLE001 - presence is best effort (a timeout too); delivery goes on
        logger.warning("presence not recorded", extra={"account": account, "error": str(err)})


@dataclass(eq=False)
class _Outbox:
    channel: trio.MemorySendChannel[Frame]
    on_overflow: Callable[[], None]


class LocalDelivery:
    def __init__(self, chats_of: ChatsOf | None = None, *, on_arrival: Presence | None = None,
                 on_departure: Presence | None = None) -> None:
        """`chats_of(account)`: the groups and channels an account belongs to. `on_arrival` and
        `on_departure` are told when an account's first connection here opens and its last closes
        (presence); their failures are logged, never the connection's problem."""
        self._chats_of = chats_of
        self._on_arrival = on_arrival
        self._on_departure = on_departure
        self._outboxes: dict[str, set[_Outbox]] = {}
        self._chats: dict[str, set[str]] = {}       # account connected here -> its groups and channels
        self._audiences: dict[str, set[str]] = {}   # group or channel -> its accounts connected here
        self.delivered = 0
        self.overflowed = 0

    @asynccontextmanager
    async def attach(self, account: str, channel: trio.MemorySendChannel[Frame],
                     on_overflow: Callable[[], None]) -> AsyncIterator[None]:
        """Deliver `account`'s events into `channel` while the block runs; `on_overflow()` is
        called when the channel is full."""
        outbox = _Outbox(channel, on_overflow)
        first = account not in self._outboxes
        self._outboxes.setdefault(account, set()).add(outbox)
        try:
            if first:
                for chat in await self._memberships(account):
                    self._join(account, chat)
                await _tell(self._on_arrival, account)
            yield
        finally:
            outboxes = self._outboxes.get(account, set())
            outboxes.discard(outbox)
            if not outboxes:
                self._outboxes.pop(account, None)
                for chat in self._chats.pop(account, set()):
                    self._audiences.get(chat, set()).discard(account)
                    if not self._audiences.get(chat):
                        self._audiences.pop(chat, None)
                with trio.CancelScope(shield=True), trio.move_on_after(_DEPARTURE_TIMEOUT_S):
                    await _tell(self._on_departure, account)

    async def _memberships(self, account: str) -> list[str]:
        """The account's groups and channels; none (private chats only, logged) if the store
        cannot say within a moment: a store outage must not refuse connections."""
        if self._chats_of is None:
            return []
        try:
            with trio.fail_after(_LOOKUP_TIMEOUT_S):
                return await self._chats_of(account)
        except Exception as err:  # noqa: BLE001 - any store failure, or no answer in time
            logger.warning("memberships not loaded; group and channel events will not reach this connection",
                           extra={"account": account, "error": str(err)})
            return []

    def connected(self, account: str) -> bool:
        return account in self._outboxes

    async def serve(self, stream: EventStream, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async for record in stream:
            self.deliver(record.event)

    def deliver(self, event: Event) -> None:
        self._follow_membership(event)
        targets = set(event.recipients) | self._audiences.get(event.audience, set())
        self.push(targets, {"type": "event", **event.as_wire()})

    def _follow_membership(self, event: Event) -> None:
        account = event.data.get("account")
        if not isinstance(account, str) or account not in self._outboxes:
            return
        if event.kind == events.MEMBER_ADDED:
            self._join(account, event.chat)
        elif event.kind == events.MEMBER_REMOVED:
            self._chats.get(account, set()).discard(event.chat)
            self._audiences.get(event.chat, set()).discard(account)

    def _join(self, account: str, chat: str) -> None:
        self._chats.setdefault(account, set()).add(chat)
        self._audiences.setdefault(chat, set()).add(account)

    def push(self, recipients: Iterable[str], frame: Frame) -> None:
        for account in recipients:
            for outbox in list(self._outboxes.get(account, ())):
                try:
                    outbox.channel.send_nowait(frame)
                    self.delivered += 1
                except trio.WouldBlock:
                    self.overflowed += 1
                    outbox.on_overflow()
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    pass  # the connection is closing; it detaches itself
