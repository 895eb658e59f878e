"""The forwarder's lanes (svyaz/node/federation/lanes.py): partitions forwarded in parallel, each in
its own order, each record marked done in order once sent; a partition that waits holds only
itself, until its lane is full. In memory: a stream of records and an outbox that sends when told."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from functools import partial
from typing import Any

import trio
import trio.testing

from svyaz.messaging import events
from svyaz.messaging.bus import Received
from svyaz.messaging.errors import NotPublished
from svyaz.messaging.events import Event
from svyaz.node.federation.forwarder import Forwarder
from svyaz.node.federation.lanes import serve_in_lanes

TOPIC = "private.events"
CHAT_A, CHAT_B = "dm/@alice:ru/@bob:kz", "dm/@alice:ru/@dana:kz"


class Stream:
    """What the lanes use of an EventStream: its records, then its end; and `done`."""

    def __init__(self, records: list[Received]) -> None:
        self._records = records
        self.read = 0
        self.done_offsets: dict[int, list[int]] = defaultdict(list)

    async def __aiter__(self):
        for record in self._records:
            self.read += 1
            yield record

    def done(self, record: Received) -> None:
        self.done_offsets[record.partition].append(record.offset)


class GatedOutbox:
    """Sends at once, except a stream held shut (until opened) or failing (NotPublished, as Kafka
    away does, `failures` times)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.shut: dict[str, trio.Event] = {}
        self.failures: dict[str, int] = {}

    async def send(self, *, destination: str, stream: str, kind: str, payload: Mapping[str, Any], event_id: str,
                   created_at_ms: int) -> int:
        if stream in self.shut:
            await self.shut[stream].wait()
        if self.failures.get(stream):
            self.failures[stream] -= 1
            raise NotPublished("Kafka did not acknowledge")
        self.sent.append((stream, payload["client_id"]))
        return len(self.sent)


def deleted(chat: str, client_id: str, partition: int, offset: int) -> Received:
    event = Event(kind=events.MESSAGE_DELETED, chat=chat, actor="@alice:ru", recipients=("@alice:ru",), at=1.0,
                  data={"sender": "@alice:ru", "client_id": client_id})
    return Received(event, TOPIC, partition, offset)


def interleaved() -> list[Received]:
    """Three events of chat A (partition 0) and three of chat B (partition 1), alternating."""
    return [deleted(chat, f"{name}{n}", partition, n)
            for n in range(3) for chat, name, partition in ((CHAT_A, "a", 0), (CHAT_B, "b", 1))]


def forwarder(outbox: GatedOutbox) -> Forwarder:
    return Forwarder(region="ru", peers=frozenset({"kz"}), outbox=outbox, private_messages=None)


async def test_a_partition_waiting_for_kafka_holds_only_itself_and_each_keeps_its_order():
    outbox, stream = GatedOutbox(), Stream(interleaved())
    outbox.shut[CHAT_A] = trio.Event()
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(forwarder(outbox).serve, stream)
            await trio.testing.wait_all_tasks_blocked()
            assert outbox.sent == [(CHAT_B, "b0"), (CHAT_B, "b1"), (CHAT_B, "b2")]
            assert stream.done_offsets == {1: [0, 1, 2]}  # nothing of A is marked done while it waits

            outbox.shut.pop(CHAT_A).set()
    assert [client_id for chat, client_id in outbox.sent if chat == CHAT_A] == ["a0", "a1", "a2"]
    assert stream.done_offsets == {0: [0, 1, 2], 1: [0, 1, 2]}


async def test_a_failed_send_is_retried_in_its_lane_while_the_others_go_on(autojump_clock):
    outbox, stream = GatedOutbox(), Stream(interleaved())
    outbox.failures[CHAT_A] = 3
    with trio.fail_after(60):
        await forwarder(outbox).serve(stream)
    sent_a = [client_id for chat, client_id in outbox.sent if chat == CHAT_A]
    assert sent_a == ["a0", "a1", "a2"]
    assert outbox.sent.index((CHAT_B, "b2")) < outbox.sent.index((CHAT_A, "a0"))  # B did not wait for A's retries
    assert stream.done_offsets == {0: [0, 1, 2], 1: [0, 1, 2]}


async def test_a_full_lane_holds_the_dispatch_so_nothing_piles_up_in_memory():
    records = [Received(Event(kind="x", chat=CHAT_A, actor="a", recipients=()), TOPIC, 0, offset)
               for offset in range(4)] + [Received(Event(kind="x", chat=CHAT_B, actor="a", recipients=()), TOPIC, 1, 0)]
    stream, handled, release = Stream(records), [], trio.Event()

    async def handle(record: Received) -> None:
        if record.partition == 0:
            await release.wait()
        handled.append((record.partition, record.offset))

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(partial(serve_in_lanes, stream, handle, buffer=1))
            await trio.testing.wait_all_tasks_blocked()
            # Offset 0 in the lane's task, offset 1 in its buffer, offset 2 waiting for room: B unread.
            assert (stream.read, handled) == (3, [])
            release.set()
    assert [offset for partition, offset in handled if partition == 0] == [0, 1, 2, 3]
    assert stream.done_offsets == {0: [0, 1, 2, 3], 1: [0]}
