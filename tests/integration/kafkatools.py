"""Small blocking Kafka helpers for tests: produce one record, wait for one, scan a cluster."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from svyaz.stack.probes import read_to_end


def produce(bootstrap: str, topic: str, key: bytes, value: bytes) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "enable.idempotence": True})
    errors: list = []
    producer.produce(topic, key=key, value=value, on_delivery=lambda err, _msg: err and errors.append(err))
    remaining = producer.flush(10)
    assert remaining == 0 and not errors, f"produce to {topic} failed: {errors or 'timeout'}"


def wait_for_record(bootstrap: str, topic: str, key: bytes, timeout_s: float) -> bytes | None:
    """Read `topic` from the start until a record with `key` arrives; None if it never does."""
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"test-{uuid.uuid4()}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "topic.metadata.refresh.interval.ms": 500,
    })
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None and msg.error() is None and msg.key() == key:
                return msg.value()
        return None
    finally:
        consumer.close()


def topics(bootstrap: str) -> set[str]:
    return set(AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics)


def cluster_contains(bootstrap: str, needle: bytes) -> list[str]:
    """Every topic of the cluster (internal ones included) whose records mention `needle`."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"scan-{uuid.uuid4()}",
                         "enable.auto.commit": False})
    try:
        every_topic = list(consumer.list_topics(timeout=10).topics)
        return sorted({
            msg.topic() for msg in read_to_end(consumer, every_topic, timeout=2.0)
            if needle in (msg.key() or b"") + (msg.value() or b"")
        })
    finally:
        consumer.close()
