"""Keeps this process's role index current: role-change events from Kafka, and a periodic full
reload from the store as a safety net for any event this process did not see.

The consumer runs in a worker thread (confluent-kafka blocks) with a group id of its own, so every
process of the node reads every change. It starts at the end of the topic: what happened before is
already in the store, which the watcher reads in full after positioning the consumer and before it
reports itself started. Changes reach trio through a memory channel; if the channel is full the
change is dropped and a full reload is requested instead, so a burst can never block the consumer
or lose a change.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import NoReturn

import trio
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from svyaz.rbac.changes import MalformedChange, RoleChange, changes_topic
from svyaz.rbac.errors import RoleStoreUnavailable
from svyaz.rbac.loader import RoleLoader

logger = logging.getLogger("svyaz.rbac.watcher")

_LIBRDKAFKA_LOG_LEVEL = 2  # reconnect attempts are logged by librdkafka at ERROR, several a second
_RETRY_MAX_S = 5.0


class RoleWatcher:
    def __init__(
        self,
        loader: RoleLoader,
        *,
        bootstrap_servers: str,
        topic_prefix: str,
        reload_interval_s: float = 60.0,
        client_id: str = "svyaz-rbac",
        poll_timeout_s: float = 0.1,
        kafka_timeout_s: float = 2.0,
        channel_size: int = 256,
    ) -> None:
        self._loader = loader
        self._bootstrap = bootstrap_servers
        self.topic = changes_topic(topic_prefix)
        self.group_id = f"svyaz-rbac-{uuid.uuid4().hex}"
        self._client_id = client_id
        self._reload_interval_s = reload_interval_s
        self._poll_timeout_s = poll_timeout_s
        self._kafka_timeout_s = kafka_timeout_s
        self._channel_size = channel_size
        self._resync = trio.Event()
        self.changes_applied = 0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> NoReturn:
        """Started once the consumer sits at the end of the topic and the store was read in full."""
        send, receive = trio.open_memory_channel[RoleChange](self._channel_size)
        async with trio.open_nursery() as nursery:
            await nursery.start(self._consume, send)
            await self._first_load()
            task_status.started()
            nursery.start_soon(self._reload_periodically)
            await self._apply(receive)
        raise AssertionError("unreachable: the consumer never returns")

    def request_full_reload(self) -> None:
        self._resync.set()

    async def _first_load(self) -> None:
        delay = 0.2
        while True:
            try:
                count = await self._loader.load_all()
            except RoleStoreUnavailable as err:
                logger.warning("role assignments not loaded yet; retrying", extra={"error": str(err)})
                await trio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX_S)
                continue
            logger.info("role assignments loaded", extra={"assignments": count, "topic": self.topic})
            return

    async def _apply(self, receive: trio.MemoryReceiveChannel[RoleChange]) -> None:
        async for change in receive:
            try:
                await self._loader.load_account(change.account)
            except RoleStoreUnavailable as err:
                logger.warning("role change not applied; a full reload will follow",
                               extra={"account": change.account, "error": str(err)})
                self.request_full_reload()
            else:
                self.changes_applied += 1

    async def _reload_periodically(self) -> NoReturn:
        while True:
            with trio.move_on_after(self._reload_interval_s):
                await self._resync.wait()
            # A new event before the read: a request made during the reload gets a reload of its own.
            self._resync = trio.Event()
            try:
                await self._loader.load_all()
            except RoleStoreUnavailable as err:
                logger.warning("periodic role reload failed", extra={"error": str(err)})

    async def _consume(self, send: trio.MemorySendChannel[RoleChange], *,
                       task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        # Not abandoned on cancel: the thread notices cancellation at its next poll and closes the
        # consumer, so a stopped watcher leaves no thread or connection behind.
        await trio.to_thread.run_sync(self._consume_in_thread, send, task_status.started)

    # Everything below runs in the worker thread.

    def _consume_in_thread(self, send: trio.MemorySendChannel[RoleChange], started: Callable[[], None]) -> None:
        consumer = Consumer({
            "bootstrap.servers": self._bootstrap,
            "group.id": self.group_id,
            "client.id": self._client_id,
            "enable.auto.commit": False,  # nothing to resume: a restarted process reloads the store
            "logger": logger,
            "log_level": _LIBRDKAFKA_LOG_LEVEL,
        })
        try:
            self._position_at_end(consumer)
            trio.from_thread.run_sync(started)
            while True:
                trio.from_thread.check_cancelled()
                message = consumer.poll(self._poll_timeout_s)
                if message is None:
                    continue
                if message.error() is not None:
                    if message.error().code() != KafkaError._PARTITION_EOF:
                        logger.warning("role change topic error", extra={"error": message.error().str()})
                    continue
                try:
                    change = RoleChange.decode(message.value() or b"")
                except MalformedChange as err:
                    logger.warning("ignoring a malformed role change", extra={"error": str(err)})
                    continue
                trio.from_thread.run_sync(self._offer, send, change)
        finally:
            consumer.close()

    def _offer(self, send: trio.MemorySendChannel[RoleChange], change: RoleChange) -> None:
        try:
            send.send_nowait(change)
        except trio.WouldBlock:
            self.request_full_reload()

    def _position_at_end(self, consumer: Consumer) -> None:
        """Assign every partition of the topic at its current end, creating the topic if needed."""
        delay = 0.2
        while True:
            trio.from_thread.check_cancelled()
            try:
                self._ensure_topic()
                consumer.assign(self._ends(consumer))
                return
            except (KafkaException, TimeoutError) as err:
                logger.warning("role change topic not reachable yet; retrying",
                               extra={"topic": self.topic, "error": str(err)})
            deadline = time.monotonic() + delay
            while time.monotonic() < deadline:
                trio.from_thread.check_cancelled()
                time.sleep(0.05)
            delay = min(delay * 2, _RETRY_MAX_S)

    def _ends(self, consumer: Consumer) -> list[TopicPartition]:
        metadata = consumer.list_topics(self.topic, timeout=self._kafka_timeout_s).topics.get(self.topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            raise KafkaException(metadata.error if metadata is not None and metadata.error else
                                 KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART))
        ends = []
        for partition in sorted(metadata.partitions):
            _low, high = consumer.get_watermark_offsets(
                TopicPartition(self.topic, partition), timeout=self._kafka_timeout_s, cached=False)
            ends.append(TopicPartition(self.topic, partition, high))
        return ends

    def _ensure_topic(self) -> None:
        admin = AdminClient({"bootstrap.servers": self._bootstrap, "logger": logger,
                             "log_level": _LIBRDKAFKA_LOG_LEVEL})
        if self.topic in admin.list_topics(timeout=self._kafka_timeout_s).topics:
            return
        # One partition: role changes are rare, and one partition keeps them in order.
        futures = admin.create_topics([NewTopic(self.topic, num_partitions=1, replication_factor=-1)],
                                      operation_timeout=self._kafka_timeout_s)
        try:
            futures[self.topic].result(timeout=self._kafka_timeout_s * 2)
        except KafkaException as err:
            if err.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
