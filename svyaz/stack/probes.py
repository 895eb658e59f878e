"""Health probes for the stack's services, each returning (healthy, detail) and never raising."""

from __future__ import annotations

import json
import logging
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition
from confluent_kafka.admin import AdminClient
from pymongo import MongoClient
from pymongo.errors import PyMongoError

# librdkafka reports every refused connection on stderr; the probe's result says it once instead.
_quiet = logging.getLogger("svyaz.stack.librdkafka")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_bindable(port: int, host: str = "127.0.0.1") -> bool:
    """Could a server bind `port` now? Not while any socket holds it: a listener, but also an
    outgoing connection given it as its local port, or such a connection's TIME-WAIT (60 s)."""
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
            return True
        except OSError:
            return False


def ephemeral_range() -> tuple[int, int] | None:
    """The ports Linux gives outgoing connections (`net.ipv4.ip_local_port_range`), if known."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return None


def kafka_admin(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap, "logger": _quiet, "socket.timeout.ms": 3000})


def kafka_healthy(bootstrap: str, timeout: float = 3.0) -> tuple[bool, str]:
    host, port = bootstrap.rsplit(":", 1)
    if not port_open(int(port), host):
        return False, f"nothing listens on {bootstrap}"
    try:
        metadata = kafka_admin(bootstrap).list_topics(timeout=timeout)
    except KafkaException as err:
        return False, f"metadata request failed: {err.args[0].str()}"
    return bool(metadata.brokers), f"{len(metadata.brokers)} broker(s), {len(metadata.topics)} topic(s)"


def mongo_healthy(url: str, timeout: float = 2.0) -> tuple[bool, str]:
    client: MongoClient = MongoClient(
        url, serverSelectionTimeoutMS=int(timeout * 1000), connectTimeoutMS=int(timeout * 1000)
    )
    try:
        build = client.admin.command("buildInfo")
        return True, f"FerretDB {build.get('ferretdbVersion', '?')} (MongoDB {build.get('version', '?')})"
    except PyMongoError as err:
        return False, f"no answer: {type(err).__name__}"
    finally:
        client.close()


def read_to_end(consumer: Consumer, topics: list[str], timeout: float = 5.0) -> Iterator[Message]:
    """Every record of `topics` from the beginning to the current end, all partitions at once.

    Ends when each partition reached its high watermark as measured at the start, or after
    `timeout` seconds without a record (compaction and transaction markers leave offset gaps).
    """
    described = consumer.list_topics(timeout=timeout).topics
    ends: dict[tuple[str, int], int] = {}
    starts = []
    for topic in topics:
        meta = described.get(topic)
        if meta is None or meta.error is not None:
            continue
        for partition in meta.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)
            if high > low:
                ends[(topic, partition)] = high
                starts.append(TopicPartition(topic, partition, low))
    if not starts:
        return
    consumer.assign(starts)
    idle_since = time.monotonic()
    while ends and time.monotonic() - idle_since < timeout:
        batch = consumer.consume(num_messages=500, timeout=0.2)
        if batch:
            idle_since = time.monotonic()
        for msg in batch:
            if msg.error() is not None:
                continue
            yield msg
            where = (msg.topic(), msg.partition())
            if where in ends and msg.offset() + 1 >= ends[where]:
                del ends[where]


def read_compacted(bootstrap: str, topic: str, timeout: float = 5.0) -> dict[str, str]:
    """Latest value per key of a (compacted) topic, read from the start up to its end."""
    return {key: value for key, (_at_ms, value) in read_latest(bootstrap, topic, timeout).items()}


def read_latest(bootstrap: str, topic: str, timeout: float = 5.0) -> dict[str, tuple[int, str]]:
    """Latest (timestamp in ms, value) per key of a (compacted) topic, read from the start up to its end."""
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"svyaz-probe-{uuid.uuid4()}",
        "enable.auto.commit": False,
        "logger": _quiet,
    })
    try:
        return {
            msg.key().decode(): (msg.timestamp()[1], msg.value().decode() if msg.value() else "")
            for msg in read_to_end(consumer, [topic], timeout)
            if msg.key() is not None
        }
    finally:
        consumer.close()


def mirror_flow_healthy(target_bootstrap: str, source: str, since_ms: int = 0) -> tuple[bool, str]:
    """Is MirrorMaker 2's source connector for `source -> target` running with a running task?

    MirrorMaker 2 keeps Kafka Connect's status records in `mm2-status.<source>.internal` on the
    target cluster; reading them is the same check Connect's REST API would make. Records written
    before `since_ms` (Unix ms: when the running process started) are left out: a MirrorMaker 2 that
    was killed never wrote that it stopped, so its last RUNNING would vouch for a successor still
    starting.
    """
    try:
        statuses = read_latest(target_bootstrap, f"mm2-status.{source}.internal")
    except KafkaException as err:  # e.g. the status topic was just created and has no leader yet
        return False, f"status topic not readable yet: {err.args[0].str()}"
    return judge_mirror_flow(statuses, since_ms)


def judge_mirror_flow(statuses: dict[str, tuple[int, str]], since_ms: int = 0) -> tuple[bool, str]:
    """`mirror_flow_healthy` on the status records read: the latest (timestamp ms, value) per key."""
    states = {key: json.loads(value).get("state") for key, (at_ms, value) in statuses.items()
              if value and at_ms >= since_ms}
    connector = states.get("status-connector-MirrorSourceConnector")
    tasks = [state for key, state in states.items() if key.startswith("status-task-MirrorSourceConnector-")]
    healthy = connector == "RUNNING" and bool(tasks) and all(state == "RUNNING" for state in tasks)
    if connector is None and "status-connector-MirrorSourceConnector" in statuses:
        return False, "connector not reported by this process yet (only by one before it)"
    return healthy, f"connector {connector or 'absent'}, tasks {tasks or 'none'}"
