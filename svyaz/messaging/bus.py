"""Kafka adapters: publish message events and wait for the broker's acknowledgement; read them
back as a trio stream.

confluent-kafka blocks, so a poller thread serves the producer's delivery reports (each wakes its
waiting task through the trio token), and a consumer thread hands records to trio through a memory
channel, blocking when the channel is full (backpressure, not loss). Topics: `<prefix>private.events`
for private chats, keyed by chat id so each chat stays in order.

The stream decodes message events by default; `open_event_stream(..., decode=raw_record)` hands
over the records as they are (`RawRecord`), for consumers of other formats (federation inbound).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import trio
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from svyaz.messaging.errors import MalformedEvent, MessagingError, NotPublished
from svyaz.messaging.events import Event, decode
from svyaz.messaging.ids import chat_kind

logger = logging.getLogger("svyaz.messaging.bus")
_LIBRDKAFKA_LOG_LEVEL = 2  # librdkafka logs each reconnect at ERROR; outages are reported once, by us
_POLL_S = 0.05
_RETRY_S = 1.0
_WATERMARK_TIMEOUT_S = 1.0
_TOPIC_METADATA_POLL_S = 0.05
R = TypeVar("R")


# Partitions of an event topic: the unit of parallelism of the projector and of ordering (per chat).
EVENT_PARTITIONS = 6


def private_events_topic(prefix: str) -> str:
    return f"{prefix}private.events"


def event_topics(prefix: str) -> dict[str, str]:
    """Topics by chat kind, split like the databases (bulkheads): private, group, channel (posts
    and their comments)."""
    return {"private": private_events_topic(prefix), "group": f"{prefix}group.events",
            "channel": f"{prefix}channel.events", "comments": f"{prefix}channel.events"}


def ensure_topic(bootstrap_servers: str, topic: str, *, partitions: int = EVENT_PARTITIONS,
                 timeout_s: float = 5.0) -> None:
    """Create `topic` unless it exists, and return once the cluster's metadata shows a leader for
    each of its partitions. Blocking; KafkaException if the cluster does not answer. Created up
    front so consumers find every partition at once (a topic created by a producer's first record,
    or a moment before a consumer subscribed, would reach that consumer only at its next metadata
    refresh, minutes later)."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers, "logger": logger,
                         "log_level": _LIBRDKAFKA_LOG_LEVEL})
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=-1)],
                                  operation_timeout=timeout_s, request_timeout=timeout_s)
    try:
        futures[topic].result(timeout=timeout_s * 2)
    except KafkaException as err:
        if err.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise
    deadline = time.monotonic() + timeout_s
    while True:
        described = admin.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if (described is not None and described.error is None and described.partitions
                and all(info.leader >= 0 for info in described.partitions.values())):
            return
        if time.monotonic() > deadline:
            raise KafkaException(KafkaError(KafkaError.LEADER_NOT_AVAILABLE, f"{topic}: leaders not elected yet"))
        time.sleep(_TOPIC_METADATA_POLL_S)


class KafkaEventPublisher:
    def __init__(self, producer: Producer, topics: dict[str, str], *, timeout_s: float) -> None:
        """`topics`: by chat kind (`event_topics`)."""
        self._producer = producer
        self._topics = topics
        self._timeout_s = timeout_s
        self._token = trio.lowlevel.current_trio_token()

    async def publish(self, event: Event) -> None:
        topic = self._topics[chat_kind(event.chat)]
        await self.produce(topic, key=event.key(), value=event.encode(), what=f"event for {event.chat}")

    async def produce(self, topic: str, *, key: bytes | None, value: bytes,
                      headers: Sequence[tuple[str, bytes]] = (), what: str = "record") -> None:
        """Produce one record to `topic` and wait for the broker's acknowledgement; NotPublished
        if it is refused or not acknowledged within the timeout (resending is then safe only for
        a consumer that is idempotent, as every consumer here is). `what` names it in errors."""
        acknowledged = trio.Event()
        failure: list[KafkaError] = []

        def delivered(err: KafkaError | None, _message) -> None:  # on the poller thread
            if err is not None:
                failure.append(err)
            try:
                self._token.run_sync_soon(acknowledged.set)
            except trio.RunFinishedError:
                pass

        try:
            self._producer.produce(topic, key=key, value=value, headers=list(headers) or None,
                                   on_delivery=delivered)
        except (BufferError, KafkaException) as err:
            raise NotPublished(f"{what} not published: {err}") from err
        with trio.move_on_after(self._timeout_s):
            await acknowledged.wait()
        if not acknowledged.is_set():
            raise NotPublished(f"Kafka did not acknowledge the {what} within {self._timeout_s:g} s; resend it")
        if failure:
            raise NotPublished(f"{what} not published: {failure[0].str()}")


@asynccontextmanager
async def open_event_publisher(bootstrap_servers: str, topics: dict[str, str], *, client_id: str,
                               timeout_s: float = 5.0) -> AsyncIterator[KafkaEventPublisher]:
    try:
        producer = Producer({
            "bootstrap.servers": bootstrap_servers, "client.id": client_id,
            "enable.idempotence": True, "acks": "all",
            # A millisecond of batching: under load many sends share one request.
            "linger.ms": 1,
            "message.timeout.ms": int(timeout_s * 1000),
            "logger": logger, "log_level": _LIBRDKAFKA_LOG_LEVEL,
        })
    except KafkaException as err:
        raise MessagingError(f"kafka bootstrap servers cannot be used: {err}") from err
    stop = threading.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_serve_delivery_reports, producer, stop)
        try:
            yield KafkaEventPublisher(producer, topics, timeout_s=timeout_s)
        finally:
            stop.set()
            with trio.move_on_after(timeout_s, shield=True):
                await trio.to_thread.run_sync(_close, producer, timeout_s, abandon_on_cancel=True)


async def _serve_delivery_reports(producer: Producer, stop: threading.Event) -> None:
    def poll_until_stopped() -> None:
        while not stop.is_set():
            producer.poll(_POLL_S)

    try:
        await trio.to_thread.run_sync(poll_until_stopped, abandon_on_cancel=True)
    finally:
        stop.set()  # an abandoned thread ends within one poll


def _close(producer: Producer, timeout_s: float) -> None:
    producer.flush(timeout_s)


@dataclass(frozen=True)
class Received:
    event: Event
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class RawRecord:
    """A record as Kafka delivered it (`decode=raw_record`). `value` is b"" for a null value."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


def received_event(message: Message) -> Received:
    """The default decoder: a message event; MalformedEvent (the record is skipped) if it is not one."""
    return Received(decode(message.value() or b""), message.topic(), message.partition(), message.offset())


def raw_record(message: Message) -> RawRecord:
    """A decoder that keeps the record as it is: for consumers that judge records themselves."""
    return RawRecord(message.topic(), message.partition(), message.offset(), message.key(),
                     message.value() or b"", tuple((name, value or b"") for name, value in message.headers() or ()))


# A call to run on the consumer thread, and how to hand its result (value, error) back to the waiting task.
_Call = tuple[Callable[[Consumer], Any], Callable[[Any, Exception | None], None]]


class EventStream(Generic[R]):
    """Decoded records (`Received` events by default) from a consumer thread. A malformed record
    is logged and skipped, never allowed to stop the stream. Every consumer call happens on that one
    thread (librdkafka blocks a second thread's call while a poll is in flight), so `done` only
    queues the offset for it, and `backlog` queues its question."""

    def __init__(self, receive: trio.MemoryReceiveChannel[R], handled: queue.SimpleQueue,
                 calls: queue.SimpleQueue[_Call] | None = None) -> None:
        self._receive = receive
        self._handled = handled
        self._calls = calls if calls is not None else queue.SimpleQueue()
        self._token = trio.lowlevel.current_trio_token()

    def __aiter__(self) -> AsyncIterator[R]:
        return self._receive.__aiter__()

    def done(self, record: Received | RawRecord) -> None:
        """Mark `record` handled: its offset is committed with the next automatic commit."""
        self._handled.put(TopicPartition(record.topic, record.partition, record.offset + 1))

    async def backlog(self) -> dict[tuple[str, int], int]:
        """Records not yet fetched, per assigned (topic, partition): the high watermark minus the
        consumer's position (records already handed to this stream but not yet `done` are not
        counted). A partition whose position is not known yet (nothing fetched since it was
        assigned) is left out. KafkaException if the cluster does not answer."""
        return await self._on_consumer_thread(_backlog)

    async def _on_consumer_thread(self, function: Callable[[Consumer], Any]) -> Any:
        answered = trio.Event()
        result: list[tuple[Any, Exception | None]] = []

        def deliver(value: Any, error: Exception | None) -> None:  # on the consumer thread
            result.append((value, error))
            try:
                self._token.run_sync_soon(answered.set)
            except trio.RunFinishedError:
                pass

        self._calls.put((function, deliver))
        await answered.wait()
        value, error = result[0]
        if error is not None:
            raise error
        return value


@asynccontextmanager
async def open_event_stream(bootstrap_servers: str, topics: str | list[str], *, group_id: str | None = None,
                            client_id: str, from_beginning: bool = False, buffer: int = 1024,
                            decode: Callable[[Message], Any] = received_event,
                            settings: Mapping[str, Any] | None = None) -> AsyncIterator[EventStream[Any]]:
    """With `group_id`, a member of that consumer group committing offsets marked `done` (at least
    once). Without, every partition from its end (or beginning), no group and no commits: a
    gateway's live feed, positioned at once instead of after a group join. The topic must exist
    (`ensure_topic`).

    `decode` turns each record into what the stream yields, on the consumer thread: `Received`
    message events by default, `raw_record` for the record as it is. A decoder raising
    MalformedEvent skips the record (logged, its offset stored). `settings` are extra librdkafka
    consumer settings (e.g. `{"fetch.wait.max.ms": 10}`), applied over the defaults."""
    topics = [topics] if isinstance(topics, str) else list(topics)
    committed = group_id is not None
    consumer = Consumer({
        "bootstrap.servers": bootstrap_servers, "client.id": client_id,
        "group.id": group_id or f"{client_id}-{uuid.uuid4().hex}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": committed, "enable.auto.offset.store": False,
        "auto.commit.interval.ms": 200,
        # A restarted broker's group coordinator waits this long for the members it knew before
        # handing their partitions out again: 45 s by default, during which nothing is consumed.
        # Heartbeats come from librdkafka's own thread every 3 s, so 10 s loses no live member.
        "session.timeout.ms": 10_000,
        "logger": logger, "log_level": _LIBRDKAFKA_LOG_LEVEL,
        **(settings or {}),
    })
    if committed:
        consumer.subscribe(topics)
    else:
        while True:
            try:
                assignment = await trio.to_thread.run_sync(_positions, consumer, topics, from_beginning,
                                                           abandon_on_cancel=True)
                break
            except KafkaException as err:  # a leader not elected yet, or Kafka away: not positioned yet
                logger.warning("event topics not positioned yet; retrying", extra={"error": str(err)})
                await trio.sleep(_RETRY_S)
        consumer.assign(assignment)
    send, receive = trio.open_memory_channel[Any](buffer)
    stop, exited = threading.Event(), threading.Event()
    handled: queue.SimpleQueue[TopicPartition] = queue.SimpleQueue()
    calls: queue.SimpleQueue[_Call] = queue.SimpleQueue()
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_consume, consumer, send, handled, stop, exited, decode, calls)
            try:
                yield EventStream(receive, handled, calls)
            finally:
                stop.set()
                nursery.cancel_scope.cancel()
    finally:
        with trio.move_on_after(5, shield=True):
            await trio.to_thread.run_sync(_close_consumer, consumer, exited, abandon_on_cancel=True)


def _positions(consumer: Consumer, topics: list[str], from_beginning: bool) -> list[TopicPartition]:
    """Each partition at a concrete offset: its start, or its end as of now. A symbolic "end"
    would be resolved only once the partition's leader answers, which for a topic created a
    moment ago can be after the first records arrived: those would be passed by."""
    positions = []
    for topic in topics:
        metadata = consumer.list_topics(topic, timeout=10.0)
        partitions = metadata.topics[topic].partitions
        if not partitions or any(info.leader < 0 for info in partitions.values()):
            # A topic created a moment ago may not have its leaders yet: not positioned until it has.
            raise KafkaException(KafkaError(KafkaError.LEADER_NOT_AVAILABLE, f"{topic}: leaders not elected yet"))
        for partition in sorted(partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10.0)
            positions.append(TopicPartition(topic, partition, low if from_beginning else high))
    return positions


def _store_handled(consumer: Consumer, handled: queue.SimpleQueue[TopicPartition]) -> None:
    offsets = []
    while not handled.empty():
        offsets.append(handled.get_nowait())
    if offsets:
        try:
            consumer.store_offsets(offsets=offsets)
        except KafkaException as err:
            # Every partition named was revoked meanwhile (a rebalance): its new owner reads those
            # records again, as at least once allows. Not worth stopping the stream for.
            logger.info("offsets not stored: partitions revoked", extra={"error": str(err)})


def _run_calls(consumer: Consumer | None, calls: queue.SimpleQueue[_Call]) -> None:
    """Answer the queued calls; with no consumer (the thread is ending), answer each with an error."""
    while not calls.empty():
        function, deliver = calls.get_nowait()
        if consumer is None:
            deliver(None, trio.ClosedResourceError("the event stream is closed"))
            continue
        try:
            value = function(consumer)
        except Exception as err:  # handed to the caller, whose question it was
            deliver(None, err)
        else:
            deliver(value, None)


def _backlog(consumer: Consumer) -> dict[tuple[str, int], int]:
    backlog = {}
    for position in consumer.position(consumer.assignment()):
        if position.offset < 0:  # OFFSET_INVALID: nothing fetched from it since it was assigned
            continue
        partition = TopicPartition(position.topic, position.partition)
        # The high watermark as of the last fetch response (no round trip), else ask the broker.
        _low, high = consumer.get_watermark_offsets(partition, cached=True)
        if high < 0:
            _low, high = consumer.get_watermark_offsets(partition, timeout=_WATERMARK_TIMEOUT_S)
        backlog[(position.topic, position.partition)] = max(high - position.offset, 0)
    return backlog


def _close_consumer(consumer: Consumer, exited: threading.Event) -> None:
    # The polling thread was abandoned on cancellation; closing under a poll in flight is unsafe.
    exited.wait(2.0)
    consumer.close()


async def _consume(consumer: Consumer, send: trio.MemorySendChannel[Any],
                   handled: queue.SimpleQueue[TopicPartition], stop: threading.Event, exited: threading.Event,
                   decode: Callable[[Message], Any], calls: queue.SimpleQueue[_Call]) -> None:
    def consume_until_stopped() -> None:
        try:
            _poll_loop()
        finally:
            exited.set()
            _run_calls(None, calls)

    def _poll_loop() -> None:
        while not stop.is_set():
            _store_handled(consumer, handled)
            _run_calls(consumer, calls)
            record = consumer.poll(_POLL_S)
            if record is None:
                continue
            if record.error() is not None:
                if record.error().code() != KafkaError._PARTITION_EOF:
                    logger.warning("kafka consumer error", extra={"error": record.error().str()})
                continue
            try:
                item = decode(record)
            except MalformedEvent as err:
                logger.warning("malformed event skipped", extra={"topic": record.topic(), "offset": record.offset(),
                                                                  "error": str(err)})
                consumer.store_offsets(message=record)
                continue
            try:
                trio.from_thread.run(send.send, item)
            except (trio.RunFinishedError, trio.Cancelled, trio.BrokenResourceError, trio.ClosedResourceError):
                return

    try:
        await trio.to_thread.run_sync(consume_until_stopped, abandon_on_cancel=True)
    finally:
        stop.set()
