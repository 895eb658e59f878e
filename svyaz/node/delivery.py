"""Live delivery: every gateway reads the message events and pushes each to the connections it
holds for the event's recipients (local fan-out; nothing is routed between gateways).

Each connection registers an outbox (a bounded memory channel its own task drains into the
WebSocket). A connection that falls `outbox_size` events behind is told to go (`slow`): it
reconnects and catches up from history, while the feed never waits for one slow client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import trio

from svyaz.messaging.bus import EventStream
from svyaz.node.frames import Frame

logger = logging.getLogger("svyaz.node.delivery")


@dataclass(eq=False)
class _Outbox:
    channel: trio.MemorySendChannel[Frame]
    on_overflow: Callable[[], None]


class LocalDelivery:
    def __init__(self) -> None:
        self._outboxes: dict[str, set[_Outbox]] = {}
        self.delivered = 0
        self.overflowed = 0

    @contextmanager
    def attach(self, account: str, channel: trio.MemorySendChannel[Frame],
               on_overflow: Callable[[], None]) -> Iterator[None]:
        """Deliver `account`'s events into `channel` while the block runs; `on_overflow()` is
        called when the channel is full."""
        outbox = _Outbox(channel, on_overflow)
        self._outboxes.setdefault(account, set()).add(outbox)
        try:
            yield
        finally:
            outboxes = self._outboxes.get(account, set())
            outboxes.discard(outbox)
            if not outboxes:
                self._outboxes.pop(account, None)

    def connected(self, account: str) -> bool:
        return account in self._outboxes

    async def serve(self, stream: EventStream, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async for record in stream:
            self.push(record.event.recipients, {"type": "event", **record.event.as_wire()})

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
