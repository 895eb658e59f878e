"""The inbound federation consumer against the real ru Kafka and ru FerretDB (no MirrorMaker 2:
records signed in-process are produced straight into the inbound topic, as MirrorMaker 2 would).

This node is ru; kz is the pinned peer. by is not pinned here (its records are `unknown_origin`).
The applier is a recording one: what it stores stands for the message store of a real applier.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
import trio
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from prometheus_client import CollectorRegistry
from pymongo import MongoClient

from svyaz.federation.envelope import Signer, encode, now_ms
from svyaz.federation.errors import NotPermitted
from svyaz.federation.ledger import InboundLedger
from svyaz.federation.trust import PeerKeys, PinnedKey, VerifiedEvent
from svyaz.gost.keys import Curve, PrivateKey
from svyaz.messaging.errors import StoreUnavailable
from svyaz.node.federation.inbound import InboundConsumer, InboundMonitor
from svyaz.node.federation.ledger_store import MongoLedgerStore, federation_database
from svyaz.node.federation.topic_names import dead_letter_topic, inbound_topic
from svyaz.node.metrics import create_metrics
from svyaz.stack.probes import read_to_end

STREAM = "dm/@alice:ru/@bob:kz"
OTHER_STREAM = "g/kz/0123456789abcdef"
WAIT_S = 15  # an upper bound for a consumer to join its group and catch up; never reached when all is well


@pytest.fixture(scope="module")
def keys() -> dict[str, PrivateKey]:
    return {name: PrivateKey.generate(Curve.TC26_256_A) for name in ("kz", "by", "mallory")}


@pytest.fixture(scope="module")
def kz(keys) -> Signer:
    return Signer("kz", keys["kz"])


@pytest.fixture(scope="module")
def ru_trust(keys) -> PeerKeys:
    return PeerKeys("ru", [PinnedKey("kz", keys["kz"].public_key())])


class RecordingApplier:
    """Stores each event's effect once, by event id (as a real applier must), and records every
    call. Kinds it refuses: `forbidden.*` (NotPermitted); `buggy.*` raise a bug. `flaky` maps an
    event id to how many times it fails as if its store were down first."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.effects: dict[str, VerifiedEvent] = {}
        self.flaky: dict[str, int] = {}
        self.crash_after: str | None = None  # an event id: cancel `scope` once its effect is stored
        self.scope: trio.CancelScope | None = None

    async def apply(self, event: VerifiedEvent) -> None:
        self.calls.append(event.id)
        if self.flaky.get(event.id, 0) > 0:
            self.flaky[event.id] -= 1
            raise StoreUnavailable("the message store did not answer (test)")
        if event.kind.startswith("forbidden."):
            raise NotPermitted(f"{event.origin} may not {event.kind}")
        if event.kind.startswith("buggy."):
            raise KeyError("a bug in the applier")
        self.effects.setdefault(event.id, event)
        if event.id == self.crash_after and self.scope is not None:
            self.crash_after = None
            self.scope.cancel()  # the node dies here: after the effect, before the ledger commit
            await trio.sleep(0)

    def applied(self, stream: str = STREAM) -> list[int]:
        return [event.seq for event in self.effects.values() if event.stream == stream]


class RecordingAudit:
    def __init__(self) -> None:
        self.entries: list[tuple[str | None, str, str, str]] = []

    async def __call__(self, origin: str | None, code: str, reason: str, source: str) -> None:
        self.entries.append((origin, code, reason, source))


class Node:
    """What one test's ru node holds: its topic prefix, federation database and consumer parts."""

    def __init__(self, stack, test_id: str, trust: PeerKeys) -> None:
        self.kafka = stack.kafka("ru")
        self.prefix = f"{test_id}."
        self.mongo = MongoClient(stack.mongo("ru"), serverSelectionTimeoutMS=3000)
        self.database = self.mongo[federation_database(test_id)]
        self.trust = trust
        self.applier = RecordingApplier()
        self.audit = RecordingAudit()
        self.registry = CollectorRegistry()
        self.monitor = InboundMonitor(create_metrics(self.registry))

    def consumer(self, **options) -> InboundConsumer:
        """A fresh consumer (same group, a new ledger store over the same database): a restarted node."""
        ledger = InboundLedger(MongoLedgerStore(self.database, trio.CapacityLimiter(4)))
        return InboundConsumer(peer_keys=self.trust, bootstrap_servers=self.kafka, topic_prefix=self.prefix,
                               ledger=ledger, applier=self.applier, audit_refusal=self.audit,
                               observer=self.monitor, client_id="test-inbound", retry_initial_s=0.01,
                               retry_max_s=0.2, backlog_interval_s=0.1, **options)

    def applied(self, origin: str = "kz") -> int:
        """Events reported applied: the last step of a record, after the ledger commit."""
        stats = self.monitor.snapshot().get(origin)
        return stats.applied if stats is not None else 0

    def refused(self, origin: str = "kz") -> int:
        stats = self.monitor.snapshot().get(origin)
        return sum(stats.refused.values()) if stats is not None else 0

    def topic(self, origin: str = "kz") -> str:
        return inbound_topic(self.prefix, origin, "ru")

    async def produce(self, *values: bytes, key: str = STREAM, origin: str = "kz") -> None:
        """Records in this order, one partition (keyed like the outbox, by stream)."""
        await trio.to_thread.run_sync(_produce, self.kafka, self.topic(origin), key.encode(), values)

    async def dead_letters(self) -> list:
        return await trio.to_thread.run_sync(_read_all, self.kafka, dead_letter_topic(self.prefix))


@pytest.fixture
def node(stack, test_id, ru_trust):
    node = Node(stack, test_id, ru_trust)
    yield node
    node.mongo.close()
    # The inbound topics start with the origin, not the test id: the session's cleanup misses them.
    admin = AdminClient({"bootstrap.servers": node.kafka})
    doomed = [topic for topic in admin.list_topics(timeout=10).topics if f".{node.prefix}outbox." in topic]
    for future in (admin.delete_topics(doomed).values() if doomed else []):
        future.result(timeout=30)


@asynccontextmanager
async def running(consumer: InboundConsumer) -> AsyncIterator[InboundConsumer]:
    async with trio.open_nursery() as nursery:
        await nursery.start(consumer.run)
        yield consumer
        nursery.cancel_scope.cancel()


async def until(condition: Callable[[], bool], what: str) -> None:
    with trio.move_on_after(WAIT_S):
        while not condition():
            await trio.sleep(0.02)
        return
    raise AssertionError(f"not within {WAIT_S} s: {what}")


def _produce(bootstrap: str, topic: str, key: bytes, values: tuple[bytes, ...]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "enable.idempotence": True})
    errors: list = []
    for value in values:
        producer.produce(topic, key=key, value=value, on_delivery=lambda err, _msg: err and errors.append(err))
    assert producer.flush(10) == 0 and not errors, f"produce to {topic} failed: {errors or 'timeout'}"


def _read_all(bootstrap: str, topic: str) -> list:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"test-{uuid.uuid4()}",
                         "enable.auto.commit": False})
    try:
        return list(read_to_end(consumer, [topic], timeout=2.0))
    finally:
        consumer.close()


def seal(signer: Signer, seq: int, *, stream: str = STREAM, kind: str = "message.created",
         destination: str = "ru", **fields) -> bytes:
    return encode(signer.seal(destination=destination, stream=stream, seq=seq, kind=kind,
                              payload={"text": f"message {seq}"}, **fields))


def headers(record) -> dict[str, str]:
    return {name: value.decode() for name, value in record.headers() or ()}


async def test_events_apply_once_and_in_order_though_they_arrive_out_of_order_and_twice(node, kz):
    first = {seq: seal(kz, seq) for seq in range(1, 6)}
    second = {seq: seal(kz, seq, stream=OTHER_STREAM) for seq in range(1, 4)}
    async with running(node.consumer()):
        await node.produce(first[3], first[1], first[3], first[2], first[5], first[1], first[4], first[2])
        await node.produce(second[2], second[2], second[1], second[3], key=OTHER_STREAM)
        await until(lambda: node.applied() == 8, "8 events applied")
        await until(lambda: node.monitor.snapshot().get("kz") and node.monitor.snapshot()["kz"].backlog == 0,
                    "the backlog reported as drained")

    assert node.applier.applied(STREAM) == [1, 2, 3, 4, 5]
    assert node.applier.applied(OTHER_STREAM) == [1, 2, 3]
    assert not [event_id for event_id, calls in Counter(node.applier.calls).items() if calls > 1]
    stats = node.monitor.snapshot()["kz"]
    assert (stats.applied, stats.refused) == (8, {})
    assert stats.last_lag_ms is not None and stats.last_applied_at is not None
    assert node.registry.get_sample_value("svyaz_federation_applied_total", {"origin": "kz"}) == 8
    assert node.registry.get_sample_value("svyaz_federation_lag_seconds_count", {"origin": "kz"}) == 8
    assert node.audit.entries == []


def _unsigned(raw: bytes) -> bytes:
    doc = json.loads(raw)
    del doc["sig"]
    return json.dumps(doc).encode()


def _with_text_payload(raw: bytes) -> bytes:
    doc = json.loads(raw)
    doc["payload"] = "the secret text of a message"
    return json.dumps(doc).encode()


def _tampered(raw: bytes) -> bytes:
    doc = json.loads(raw)
    doc["payload"]["text"] = "something else"
    return json.dumps(doc).encode()


async def test_every_kind_of_refusal_is_dead_lettered_audited_and_counted_and_the_next_event_applies(
        node, kz, keys):
    mallory_as_kz = Signer("kz", keys["mallory"])
    unpinned_by = Signer("by", keys["by"])
    good = {seq: seal(kz, seq) for seq in range(1, 16)}
    refused = [  # (code, record): each followed by the next good event
        ("unsigned", _unsigned(seal(kz, 2))),
        ("forged", _tampered(seal(kz, 2))),
        ("unknown_key", seal(mallory_as_kz, 2)),
        ("oversized", b'{"pad":"' + b"x" * (300 * 1024) + b'"}'),
        ("malformed", _with_text_payload(seal(kz, 2))),  # its reason must not quote the text
        ("replayed", seal(kz, 1)),  # seq 1 is applied already, and this is another event
        ("misrouted", seal(kz, 2, destination="by")),
        ("skewed", seal(kz, 2, created_at=now_ms() + 3_600_000)),
        ("gap", seal(kz, 5000)),
        ("unknown_origin", seal(unpinned_by, 1)),
        ("not_permitted", seal(kz, 12, kind="forbidden.takeover")),
        ("apply_failed", seal(kz, 14, kind="buggy.kind")),
    ]
    sequence = [good[1]]
    next_good = 2
    for _code, record in refused:
        sequence.append(record)
        if next_good in (12, 14):  # the refused applier events take these seqs themselves
            next_good += 1
        sequence.append(good[next_good])
        next_good += 1
    assert next_good == 16

    async with running(node.consumer()):
        await node.produce(*sequence)
        await until(lambda: node.applied() == 13 and node.refused() == len(refused),
                    "every good event applied and every refusal counted")
        dead = await node.dead_letters()

    codes = [code for code, _record in refused]
    assert node.applier.applied() == [seq for seq in range(1, 16) if seq not in (12, 14)]
    by_code = {headers(record)["code"]: record for record in dead}
    assert sorted(by_code) == sorted(codes) and len(dead) == len(codes)
    source = dict(refused)
    for code in codes:
        record, named = by_code[code], headers(by_code[code])
        assert record.value() == source[code], code
        assert named["source_topic"] == node.topic() and named["via"] == "kz", code
        assert int(named["source_offset"]) == sequence.index(source[code]), code
        assert named["reason"] and len(named["reason"]) <= 300, code
    assert headers(by_code["not_permitted"])["event_id"] == json.loads(source["not_permitted"])["id"]
    assert headers(by_code["apply_failed"])["reason"] == "KeyError in the applier of buggy.kind"
    assert "origin" not in headers(by_code["malformed"])
    assert headers(by_code["malformed"])["reason"] == "envelope payload: expected a JSON object"

    assert sorted(code for _origin, code, _reason, _source in node.audit.entries) == sorted(codes)
    assert {origin for origin, *_rest in node.audit.entries} == {"kz"}
    assert not [entry for entry in node.audit.entries if "secret" in entry[2]]
    stats = node.monitor.snapshot()["kz"]
    assert stats.refused == dict.fromkeys(codes, 1)
    for code in codes:
        assert node.registry.get_sample_value("svyaz_federation_refused_total", {"origin": "kz", "code": code}) == 1


async def test_a_store_outage_in_the_applier_is_retried_and_the_event_applied_once(node, kz):
    records = [seal(kz, seq) for seq in (1, 2, 3)]
    node.applier.flaky[json.loads(records[1])["id"]] = 3
    async with running(node.consumer()):
        await node.produce(*records)
        await until(lambda: node.applied() == 3, "3 events applied")

    assert node.applier.applied() == [1, 2, 3]
    assert Counter(node.applier.calls)[json.loads(records[1])["id"]] == 4  # three outages, then applied
    assert node.monitor.snapshot()["kz"].refused == {}
    assert node.audit.entries == []


async def test_a_restart_after_a_crash_between_apply_and_commit_applies_nothing_twice(node, kz):
    records = [seal(kz, seq) for seq in (1, 2, 3, 4)]
    crash_on = json.loads(records[2])["id"]
    node.applier.crash_after = crash_on
    with trio.fail_after(WAIT_S):
        with trio.CancelScope() as crashed:
            node.applier.scope = crashed
            async with trio.open_nursery() as nursery:
                await nursery.start(node.consumer().run)
                await node.produce(*records)
                await trio.sleep_forever()
    assert crashed.cancelled_caught and node.applier.applied() == [1, 2, 3]

    async with running(node.consumer()):
        await until(lambda: node.applied() == 4, "the 4th event applied after the restart")

    assert node.applier.applied() == [1, 2, 3, 4]
    # Only the event caught between its effect and the ledger commit is offered to the applier
    # again (which, idempotent by event id, stores nothing twice); the committed ones are not.
    assert {event_id for event_id, calls in Counter(node.applier.calls).items() if calls > 1} == {crash_on}


async def test_a_held_event_survives_a_restart(node, kz):
    one, two, three = (seal(kz, seq) for seq in (1, 2, 3))
    async with running(node.consumer()):
        await node.produce(two, three)  # seq 1 is missing: both are held in the ledger
        store = MongoLedgerStore(node.database, trio.CapacityLimiter(1))
        await until_held(store, [2, 3])
    assert node.applier.effects == {}

    async with running(node.consumer()):
        await node.produce(one)
        await until(lambda: node.applied() == 3, "the held events released by seq 1")

    assert node.applier.applied() == [1, 2, 3]
    assert node.monitor.snapshot()["kz"].applied == 3


async def until_held(store: MongoLedgerStore, seqs: list[int]) -> None:
    with trio.move_on_after(WAIT_S):
        while [event.seq for event in (await store.load("kz", STREAM)).held] != seqs:
            await trio.sleep(0.05)
        return
    raise AssertionError(f"seqs {seqs} not held within {WAIT_S} s")
