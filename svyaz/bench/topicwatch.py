"""Where a cross-border message is on its way: a passive reader of the Kafka topics it passes, on
one region's cluster, that notes when each message of the bench shows up (`crossings.HOPS`).

On region R's cluster, with the nodes' topic prefix P:

  P + "private.events"        R's node's events: a message sent on R (`event`), or one that arrived
                              from a peer and was applied on R (`arrival`: the event names its origin)
  P + "outbox." + peer        what R's forwarder sent towards `peer` (`outbox`)
  peer + "." + P + "outbox.R" MirrorMaker 2's copy of `peer`'s outbox on R (`mirror`)

Each consumer is assigned every partition at its end (no consumer group, nothing committed), reads
on a thread of its own and stamps a record with `time.perf_counter()` as it comes off the poll: the
time it became readable on this machine, the bench's own fetch included (a few ms, the same at
every hop, so it cancels out of the segments between hops). It reads records' values only to find
the message's client id; message text is neither kept nor shown.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import trio
from confluent_kafka import Consumer, KafkaException, TopicPartition

EVENTS, OUTBOX, MIRROR = "events", "outbox", "mirror"
CREATED = "message.created"
POLL_S = 0.1
POSITION_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Sighting:
    hop: str          # crossings.HOPS
    client_id: str
    at: float         # time.perf_counter()


def watched_topics(region: str, topic_prefix: str, peers: Sequence[str]) -> dict[str, str]:
    """topic -> what it carries (EVENTS, OUTBOX, MIRROR), on `region`'s cluster."""
    topics = {f"{topic_prefix}private.events": EVENTS}
    for peer in peers:
        topics[f"{topic_prefix}outbox.{peer}"] = OUTBOX
        topics[f"{peer}.{topic_prefix}outbox.{region}"] = MIRROR
    return topics


def sighting_of(carries: str, value: bytes | None) -> tuple[str, str] | None:
    """(hop, client id) of a record carrying a created message, else None. Events are the node's
    JSON events (`data.client_id`); outbox records are federation envelopes (`payload.client_id`)."""
    try:
        doc = json.loads(value or b"")
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(doc, dict) or doc.get("kind") != CREATED:
        return None
    inner = doc.get("data" if carries == EVENTS else "payload")
    client_id = inner.get("client_id") if isinstance(inner, dict) else None
    if not isinstance(client_id, str):
        return None
    if carries == EVENTS:
        return ("arrival" if doc.get("origin") else "event"), client_id
    return ("outbox" if carries == OUTBOX else "mirror"), client_id


class TopicWatch:
    """Reads `watched_topics(...)` on one cluster; `sightings` grows while it runs."""

    def __init__(self, *, region: str, bootstrap_servers: str, topic_prefix: str, peers: Sequence[str]) -> None:
        self.region = region
        self.topics = watched_topics(region, topic_prefix, peers)
        self.sightings: list[Sighting] = []   # appended on the reading thread only
        self.missing: list[str] = []           # topics that did not exist (with leaders) in time
        self._bootstrap = bootstrap_servers

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Position at the end of every watched topic, then `started`, then read until cancelled."""
        consumer = Consumer({"bootstrap.servers": self._bootstrap, "group.id": f"svyaz-bench-watch-{id(self)}",
                             "enable.auto.commit": False, "allow.auto.create.topics": False,
                             "fetch.wait.max.ms": 100, "log_level": 3})
        stop, exited = threading.Event(), threading.Event()
        exited.set()
        try:
            assignment = await self._positions(consumer)
            consumer.assign(assignment)
            task_status.started()
            exited.clear()
            await trio.to_thread.run_sync(self._read, consumer, stop, exited, abandon_on_cancel=True)
        finally:
            stop.set()
            with trio.CancelScope(shield=True):
                # The reading thread was abandoned on cancellation: close only once its poll returned.
                await trio.to_thread.run_sync(exited.wait, 2.0)
                await trio.to_thread.run_sync(consumer.close)

    async def _positions(self, consumer: Consumer) -> list[TopicPartition]:
        positions: dict[str, list[TopicPartition]] = {}
        with trio.move_on_after(POSITION_TIMEOUT_S):
            while len(positions) < len(self.topics):
                for topic in self.topics:
                    if topic not in positions:
                        found = await trio.to_thread.run_sync(_ends, consumer, topic)
                        if found:
                            positions[topic] = found
                if len(positions) < len(self.topics):
                    await trio.sleep(0.5)
        self.missing = sorted(set(self.topics) - set(positions))
        return [partition for found in positions.values() for partition in found]

    def _read(self, consumer: Consumer, stop: threading.Event, exited: threading.Event) -> None:
        try:
            while not stop.is_set():
                record = consumer.poll(POLL_S)
                if record is None:
                    continue
                at = time.perf_counter()
                if record.error() is not None:
                    continue
                seen = sighting_of(self.topics.get(record.topic(), ""), record.value())
                if seen is not None:
                    self.sightings.append(Sighting(seen[0], seen[1], at))
        finally:
            exited.set()


def _ends(consumer: Consumer, topic: str) -> list[TopicPartition]:
    """Every partition of `topic` at its current end; [] while it does not exist or lacks a leader."""
    try:
        metadata = consumer.list_topics(topic, timeout=5.0).topics.get(topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            return []
        if any(info.leader < 0 for info in metadata.partitions.values()):
            return []
        ends = []
        for partition in sorted(metadata.partitions):
            _low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=5.0)
            ends.append(TopicPartition(topic, partition, high))
        return ends
    except KafkaException:
        return []
