"""The role-change publisher (confluent-kafka): one small record per grant or revoke on
`<topic_prefix>rbac.changes`, flushed before `publish` returns."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio
from confluent_kafka import KafkaError, KafkaException, Producer

from svyaz.rbac.changes import RoleChange, changes_topic
from svyaz.rbac.errors import ChangeNotPublished, RbacError

# librdkafka reports every reconnect attempt at ERROR; a failed publish is reported once, by us.
_LIBRDKAFKA_LOG_LEVEL = 2
logger = logging.getLogger("svyaz.rbac.publisher")


class KafkaChangePublisher:
    """The ChangePublisher port over a Producer the caller owns."""

    def __init__(self, producer: Producer, topic: str, *, timeout_s: float) -> None:
        self._producer = producer
        self.topic = topic
        self._timeout_s = timeout_s
        # One publish at a time: role changes are rare, and flush() is then ours alone.
        self._limiter = trio.CapacityLimiter(1)

    async def publish(self, change: RoleChange) -> None:
        await trio.to_thread.run_sync(self._publish, change, limiter=self._limiter, abandon_on_cancel=True)

    def _publish(self, change: RoleChange) -> None:
        failures: list[KafkaError] = []

        def delivered(err: KafkaError | None, _msg) -> None:
            if err is not None:
                failures.append(err)

        try:
            self._producer.produce(self.topic, key=change.key(), value=change.encode(), on_delivery=delivered)
            remaining = self._producer.flush(self._timeout_s)
        except (KafkaException, BufferError) as err:
            raise ChangeNotPublished(f"role change for {change.account} not published: {err}") from err
        if failures or remaining:
            reason = failures[0].str() if failures else f"no acknowledgement within {self._timeout_s:g} s"
            raise ChangeNotPublished(f"role change for {change.account} not published: {reason}")


@asynccontextmanager
async def open_change_publisher(
    bootstrap_servers: str, topic_prefix: str, *, client_id: str = "svyaz-rbac", timeout_s: float = 5.0
) -> AsyncIterator[KafkaChangePublisher]:
    """A publisher on its own Producer; flushed (bounded) and closed on exit."""
    try:
        producer = Producer({
            "bootstrap.servers": bootstrap_servers,
            "client.id": client_id,
            "enable.idempotence": True,
            "linger.ms": 0,
            "message.timeout.ms": int(timeout_s * 1000),
            "logger": logger,
            "log_level": _LIBRDKAFKA_LOG_LEVEL,
        })
    except KafkaException as err:
        raise RbacError(f"kafka bootstrap servers cannot be used: {err}") from err
    try:
        yield KafkaChangePublisher(producer, changes_topic(topic_prefix), timeout_s=timeout_s)
    finally:
        with trio.move_on_after(timeout_s, shield=True):
            await trio.to_thread.run_sync(_close, producer, timeout_s, abandon_on_cancel=True)


def _close(producer: Producer, timeout_s: float) -> None:
    # Closed, not left to the garbage collector: a live producer keeps refreshing the topic's
    # metadata, and the broker re-creates a deleted topic for it.
    producer.flush(timeout_s)
    producer.close()
