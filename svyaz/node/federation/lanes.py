"""A consumer group's records, handled in parallel per partition and in order within each.

The forwarder and the inbound consumer both read topics keyed by stream (a chat), where order per
stream is all that matters. `serve_in_lanes` gives each (topic, partition) a lane: a task with a
bounded memory channel, handling that partition's records one after another and marking each done
in order, so a committed offset never passes a record not yet handled. A slow partition holds only
its own lane until its channel is full; then the dispatch waits too (backpressure, as the stream's
own buffer does), rather than keeping an unbounded backlog in memory.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import trio

from svyaz.messaging.bus import EventStream


class PartitionRecord(Protocol):
    """What a lane needs of a record (`Received`, `RawRecord`)."""

    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...


R = TypeVar("R", bound=PartitionRecord)


async def serve_in_lanes(stream: EventStream[R], handle: Callable[[R], Awaitable[None]], *, buffer: int) -> None:
    """Hand every record of `stream` to `handle`, one lane per (topic, partition), and mark it done
    once `handle` returned. `handle` decides what a failure means (retry, skip, dead-letter): an
    exception out of it ends every lane. Returns only when the stream ends."""
    async with trio.open_nursery() as nursery:
        lanes: dict[tuple[str, int], trio.MemorySendChannel[R]] = {}
        async for record in stream:
            lane = lanes.get((record.topic, record.partition))
            if lane is None:
                lane, receive = trio.open_memory_channel[R](buffer)
                lanes[(record.topic, record.partition)] = lane
                nursery.start_soon(_serve_lane, stream, handle, receive)
            await lane.send(record)
        for lane in lanes.values():
            await lane.aclose()  # each lane finishes what it holds, then ends


async def _serve_lane(stream: EventStream[R], handle: Callable[[R], Awaitable[None]],
                      receive: trio.MemoryReceiveChannel[R]) -> None:
    async for record in receive:
        await handle(record)
        stream.done(record)
