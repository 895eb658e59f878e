"""The outbox producer on the real ru FerretDB and Kafka (svyaz/node/federation/outbox.py): numbers
without gaps or repeats, the same number for a re-sent event, records that the receiver decodes and
verifies under the node's pinned public key, and a clear transient error when Kafka is away."""

from __future__ import annotations

import socket
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
from confluent_kafka import Consumer, TopicPartition
from pymongo import MongoClient, monitoring

from svyaz.federation import envelope
from svyaz.federation.envelope import MAX_ENVELOPE_BYTES, Signer
from svyaz.federation.errors import Malformed, Oversized, ResidencyViolation
from svyaz.federation.keyfile import PUBLIC_KEY_FILE, load_or_generate_federation_key
from svyaz.federation.trust import load_peer_keys
from svyaz.messaging.bus import EVENT_PARTITIONS, open_event_publisher
from svyaz.messaging.errors import NotPublished
from svyaz.node.federation.outbox import (
    EVENTS,
    HEAD_HINT_EVERY,
    HEADS,
    SEQS,
    MongoOutboxSeqs,
    Outbox,
    OutboxConflict,
    OutboxUnavailable,
    open_outbox,
)
from svyaz.node.federation.topic_names import outbox_topic
from tests.integration.kafkatools import topics

STREAM = "dm/@alice:ru/@bob:kz"
OTHER_STREAM = "dm/@alice:ru/@dana:kz"
NOW_MS = 1_718_000_000_123


def new_id() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def database(stack, test_id):
    client = MongoClient(stack.mongo("ru"))
    yield client[f"{test_id}_federation"]
    client.drop_database(f"{test_id}_federation")
    client.close()


@pytest.fixture
def seqs(database) -> MongoOutboxSeqs:
    return MongoOutboxSeqs(database, trio.CapacityLimiter(4))


@pytest.fixture(scope="module")
def key_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("federation") / "ru"
    load_or_generate_federation_key(directory)
    return directory


@pytest.fixture(scope="module")
def signer(key_dir) -> Signer:
    return Signer("ru", load_or_generate_federation_key(key_dir))


@asynccontextmanager
async def outbox_for(stack, test_id, database, signer, *, peers=("kz", "by"), send_timeout_s=5.0):
    async with open_outbox(signer=signer, peers=peers, database=database, limiter=trio.CapacityLimiter(4),
                           bootstrap_servers=stack.kafka("ru"), topic_prefix=f"{test_id}.",
                           client_id=f"{test_id}-outbox", send_timeout_s=send_timeout_s) as outbox:
        yield outbox


def read_records(bootstrap: str, topic: str, count: int, timeout_s: float = 15.0) -> list:
    """The first `count` records of `topic` (every partition from its start)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"test-{uuid.uuid4()}",
                         "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(topic, partition, 0) for partition in range(EVENT_PARTITIONS)])
        records, deadline = [], time.monotonic() + timeout_s
        while len(records) < count and time.monotonic() < deadline:
            record = consumer.poll(0.2)
            if record is not None and record.error() is None:
                records.append(record)
        return records
    finally:
        consumer.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- numbering -------------------------------------------------------------------------------------


async def test_numbers_run_from_one_without_gaps_per_destination_and_stream(seqs):
    got = {(destination, stream): [await seqs.allocate(destination, stream, new_id()) for _ in range(5)]
           for destination in ("kz", "by") for stream in (STREAM, OTHER_STREAM)}
    assert got == {key: [1, 2, 3, 4, 5] for key in got}
    assert await seqs.allocate("kz", STREAM, new_id()) == 6
    assert await seqs.allocate("by", "c/ru/news", new_id()) == 1


async def test_the_same_event_gets_the_same_number_again(seqs):
    first, second = new_id(), new_id()
    assert await seqs.allocate("kz", STREAM, first) == 1
    assert await seqs.allocate("kz", STREAM, second) == 2
    assert await seqs.allocate("kz", STREAM, first) == 1
    assert await seqs.allocate("kz", STREAM, second) == 2
    assert await seqs.allocate("kz", STREAM, new_id()) == 3
    # per destination: the same event sent to by is numbered in by's own sequence
    assert await seqs.allocate("by", STREAM, first) == 1


async def test_an_event_id_reused_on_another_stream_is_refused(seqs):
    event_id = new_id()
    await seqs.allocate("kz", STREAM, event_id)
    with pytest.raises(OutboxConflict, match=f"event {event_id} is already numbered 1 on stream"):
        await seqs.allocate("kz", OTHER_STREAM, event_id)


async def test_a_crash_between_the_claim_and_its_lookup_document_keeps_the_number(seqs, database):
    numbered = [new_id() for _ in range(3)]
    for event_id in numbered:
        await seqs.allocate("kz", STREAM, event_id)
    # As if the allocator died after its claim: no lookup document, the head hint behind.
    database[EVENTS].delete_many({})
    database[HEADS].delete_many({})
    fresh = MongoOutboxSeqs(database, trio.CapacityLimiter(2))  # a new process: no memory of the head

    assert [await fresh.allocate("kz", STREAM, event_id) for event_id in reversed(numbered)] == [3, 2, 1]
    assert await fresh.allocate("kz", STREAM, new_id()) == 4
    assert database[SEQS].count_documents({}) == 4


async def test_concurrent_allocators_never_hand_out_one_number_twice(stack, database):
    # Two "processes" (clients of their own) with four threads each, on one stream.
    clients = [MongoClient(stack.mongo("ru")) for _ in range(2)]
    allocators = [MongoOutboxSeqs(client[database.name], trio.CapacityLimiter(4)) for client in clients]
    events = [new_id() for _ in range(60)]
    got: dict[str, int] = {}

    async def allocate(allocator: MongoOutboxSeqs, mine: list[str]) -> None:
        for event_id in mine:
            seq = await allocator.allocate("kz", STREAM, event_id)
            assert got.setdefault(event_id, seq) == seq

    try:
        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                for task in range(8):
                    nursery.start_soon(allocate, allocators[task % 2], events[task::8])
                # ... and the same events again at once, from the other allocator: the same numbers
                for task in range(8):
                    nursery.start_soon(allocate, allocators[(task + 1) % 2], events[task::8])
    finally:
        for client in clients:
            client.close()

    assert sorted(got.values()) == list(range(1, 61))
    assert database[SEQS].count_documents({}) == 60


class Commands(monitoring.CommandListener):
    """The store commands a client sends, by name and collection (the index's creation aside)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def started(self, event):
        if event.command_name != "createIndexes":
            self.sent.append((event.command_name, event.command[event.command_name]))

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


async def test_a_process_numbers_a_stream_it_knows_in_two_inserts_and_writes_the_hint_rarely(stack, database):
    commands = Commands()
    client = MongoClient(stack.mongo("ru"), event_listeners=[commands])
    seqs = MongoOutboxSeqs(client[database.name], trio.CapacityLimiter(1))
    try:
        first = new_id()
        assert await seqs.allocate("kz", STREAM, first) == 1
        # A new stream: the event's lookup (not a re-send), the hint (none yet), the claim, the lookup document.
        assert commands.sent == [("find", EVENTS), ("find", HEADS), ("insert", SEQS), ("insert", EVENTS)]

        commands.sent.clear()
        assert await seqs.allocate("kz", STREAM, new_id()) == 2
        assert commands.sent == [("insert", SEQS), ("insert", EVENTS)]

        commands.sent.clear()
        assert await seqs.allocate("kz", STREAM, first) == 1  # a re-send: its claim refused, its lookup read
        assert commands.sent == [("insert", SEQS), ("find", EVENTS)]

        for _ in range(3, HEAD_HINT_EVERY):
            await seqs.allocate("kz", STREAM, new_id())
        commands.sent.clear()
        assert await seqs.allocate("kz", STREAM, new_id()) == HEAD_HINT_EVERY
        assert commands.sent == [("insert", SEQS), ("insert", EVENTS), ("update", HEADS)]
    finally:
        client.close()
    assert database[HEADS].find_one({})["last"] == HEAD_HINT_EVERY


async def test_numbers_another_process_took_meanwhile_are_read_past_without_a_gap(stack, database):
    clients = [MongoClient(stack.mongo("ru")) for _ in range(2)]
    one, other = (MongoOutboxSeqs(client[database.name], trio.CapacityLimiter(2)) for client in clients)
    try:
        early = new_id()
        assert [await one.allocate("kz", STREAM, event_id) for event_id in (early, new_id())] == [1, 2]
        # The other process starts behind the hint (none yet): it reads past 1 and 2.
        assert [await other.allocate("kz", STREAM, new_id()) for _ in range(3)] == [3, 4, 5]
        # The first one's next number (3) is taken now: refused, it reads on to the first free one.
        assert await one.allocate("kz", STREAM, new_id()) == 6
        assert await other.allocate("kz", STREAM, new_id()) == 7
        assert await other.allocate("kz", STREAM, early) == 1  # a re-send through the other process
        assert await one.allocate("kz", STREAM, early) == 1
    finally:
        for client in clients:
            client.close()
    assert sorted(claim["seq"] for claim in database[SEQS].find({})) == list(range(1, 8))


async def test_a_re_send_whose_lookup_document_was_lost_keeps_its_number_in_the_process_that_numbered_it(
        seqs, database):
    events = [new_id() for _ in range(3)]
    assert [await seqs.allocate("kz", STREAM, event_id) for event_id in events] == [1, 2, 3]
    # As if the lookup documents were never written: the claim at 4 is refused by the event's own
    # number, which only the claims know now.
    database[EVENTS].delete_many({})

    assert await seqs.allocate("kz", STREAM, events[1]) == 2
    with pytest.raises(OutboxConflict):
        await seqs.allocate("kz", OTHER_STREAM, events[0])
    assert await seqs.allocate("kz", STREAM, new_id()) == 4
    assert database[SEQS].count_documents({}) == 4


async def test_a_process_restarted_behind_the_hint_reads_on_from_it(seqs, database):
    for _ in range(HEAD_HINT_EVERY + 3):
        await seqs.allocate("kz", STREAM, new_id())
    assert database[HEADS].find_one({})["last"] == HEAD_HINT_EVERY
    fresh = MongoOutboxSeqs(database, trio.CapacityLimiter(2))
    assert await fresh.allocate("kz", STREAM, new_id()) == HEAD_HINT_EVERY + 4
    assert await fresh.allocate("kz", STREAM, new_id()) == HEAD_HINT_EVERY + 5


async def test_bad_arguments_are_refused_before_anything_is_stored(seqs, database):
    for destination, stream, event_id in [("xx", STREAM, new_id()), ("kz", "has space", new_id()),
                                          ("kz", STREAM, "not-hex")]:
        with pytest.raises(ValueError):
            await seqs.allocate(destination, stream, event_id)
    assert database[SEQS].count_documents({}) == 0


# --- sending -----------------------------------------------------------------------------------------


async def test_a_sent_event_decodes_and_verifies_on_the_receiver_keyed_by_its_stream(
        stack, test_id, database, signer, key_dir):
    event_id = new_id()
    async with outbox_for(stack, test_id, database, signer) as outbox:
        seq = await outbox.send(destination="kz", stream=STREAM, kind="message.created",
                                payload={"text": "привет", "n": (1, 2)}, event_id=event_id, created_at_ms=NOW_MS)
    assert seq == 1

    records = await trio.to_thread.run_sync(read_records, stack.kafka("ru"), outbox_topic(f"{test_id}.", "kz"), 1)
    assert len(records) == 1 and records[0].key() == STREAM.encode()
    # What kz does with it: decode as the destination, then verify under the key it pins for ru.
    received = envelope.decode(records[0].value(), local_region="kz")
    verified = load_peer_keys("kz", {"ru": [str(key_dir / PUBLIC_KEY_FILE)]}).verify(received)
    assert (verified.origin, verified.stream, verified.seq, verified.id, verified.kind) == (
        "ru", STREAM, 1, event_id, "message.created")
    assert verified.envelope.created_at == NOW_MS
    assert verified.payload == {"text": "привет", "n": [1, 2]}
    assert verified.envelope.key_id == signer.key_id


async def test_a_re_sent_event_is_the_same_event_with_the_same_number(stack, test_id, database, signer, key_dir):
    first, second = new_id(), new_id()
    payload = {"text": "hello"}
    async with outbox_for(stack, test_id, database, signer) as outbox:
        sent = [await outbox.send(destination="kz", stream=STREAM, kind="message.created", payload=payload,
                                  event_id=event_id, created_at_ms=NOW_MS)
                for event_id in (first, second, first)]
    assert sent == [1, 2, 1]

    records = await trio.to_thread.run_sync(read_records, stack.kafka("ru"), outbox_topic(f"{test_id}.", "kz"), 3)
    trust = load_peer_keys("kz", {"ru": [str(key_dir / PUBLIC_KEY_FILE)]})
    verified = [trust.verify(envelope.decode(record.value(), local_region="kz")) for record in records]
    assert [event.seq for event in verified] == [1, 2, 1]  # one stream, one partition: in order
    original, resent = verified[0], verified[2]
    assert resent.envelope.signature != original.envelope.signature  # GOST signatures are randomised
    assert resent.digest == original.digest  # ...but the signed content is the same: a duplicate
    assert (resent.id, resent.seq, resent.payload) == (original.id, original.seq, original.payload)


async def test_destinations_that_are_not_peers_are_refused_and_nothing_is_numbered(
        stack, test_id, database, signer):
    async with outbox_for(stack, test_id, database, signer, peers=("kz",)) as outbox:
        for destination, message in [("ru", "a region never federates with itself"),
                                     ("by", "'by' is not a peer of ru \\(peers: kz\\)"),
                                     ("xx", "'xx' is not a peer of ru")]:
            with pytest.raises(ResidencyViolation, match=message):
                await outbox.send(destination=destination, stream=STREAM, kind="message.created", payload={},
                                  event_id=new_id(), created_at_ms=NOW_MS)
    assert database[SEQS].count_documents({}) == 0


async def test_an_event_no_peer_would_accept_is_refused_before_it_gets_a_number(stack, test_id, database, signer):
    async with outbox_for(stack, test_id, database, signer) as outbox:
        refusals = [
            (Oversized, dict(payload={"text": "x" * MAX_ENVELOPE_BYTES})),
            (Malformed, dict(payload={"bad": float("nan")})),
            (Malformed, dict(kind="Not A Kind")),
            (Malformed, dict(stream="has space")),
            (Malformed, dict(event_id="")),
            (Malformed, dict(created_at_ms=None)),
        ]
        for kind, change in refusals:
            arguments = dict(destination="kz", stream=STREAM, kind="message.created", payload={},
                             event_id=new_id(), created_at_ms=NOW_MS) | change
            with pytest.raises(kind):
                await outbox.send(**arguments)
        assert database[SEQS].count_documents({}) == 0
        assert await outbox.send(destination="kz", stream=STREAM, kind="message.created", payload={},
                                 event_id=new_id(), created_at_ms=NOW_MS) == 1


async def test_the_outbox_topics_are_created_up_front(stack, test_id, database, signer):
    wanted = {outbox_topic(f"{test_id}.", "kz"), outbox_topic(f"{test_id}.", "by")}
    async with outbox_for(stack, test_id, database, signer):
        with trio.fail_after(10):  # in the background, with nothing sent
            while not wanted <= await trio.to_thread.run_sync(topics, stack.kafka("ru")):
                await trio.sleep(0.2)
    assert database[SEQS].count_documents({}) == 0


async def test_the_outbox_opens_at_once_while_kafka_is_away(test_id, database, signer):
    with trio.fail_after(1):
        async with open_outbox(signer=signer, peers={"kz", "by"}, database=database,
                               limiter=trio.CapacityLimiter(1), bootstrap_servers=f"127.0.0.1:{closed_port()}",
                               topic_prefix=f"{test_id}.", client_id=f"{test_id}-away", send_timeout_s=0.5):
            pass


# --- Kafka away -----------------------------------------------------------------------------------


@pytest.mark.parametrize("topic_exists", [True, False], ids=["producing", "creating-the-topic"])
async def test_kafka_away_is_a_clear_transient_error_within_the_timeout_and_a_retry_keeps_the_number(
        test_id, database, signer, topic_exists):
    timeout_s = 1.5
    unreachable = f"127.0.0.1:{closed_port()}"
    prefix = f"{test_id}."
    event_id = new_id()
    async with open_event_publisher(unreachable, {}, client_id=f"{test_id}-away", timeout_s=timeout_s) as publisher:
        outbox = Outbox(signer=signer, peers={"kz"}, seqs=MongoOutboxSeqs(database, trio.CapacityLimiter(2)),
                        publisher=publisher, bootstrap_servers=unreachable, topic_prefix=prefix,
                        send_timeout_s=timeout_s,
                        ready_topics={outbox_topic(prefix, "kz")} if topic_exists else ())
        for _attempt in range(2):
            started = time.monotonic()
            with pytest.raises(OutboxUnavailable) as unsent:
                await outbox.send(destination="kz", stream=STREAM, kind="message.created", payload={},
                                  event_id=event_id, created_at_ms=NOW_MS)
            assert time.monotonic() - started < timeout_s + 1.0
            assert isinstance(unsent.value, NotPublished)  # what the forwarder retries
            assert f"federation event {event_id} (seq 1) for kz" in str(unsent.value)
            assert unsent.value.hint == "send it again: it keeps its number"
    claims = list(database[SEQS].find({}))
    assert [(claim["seq"], claim["event_id"]) for claim in claims] == [(1, event_id)]


class Heard:
    """A send observer that keeps what it is told."""

    def __init__(self) -> None:
        self.sends: list[tuple[str, float]] = []
        self.failures: list[str] = []

    def sent(self, destination: str, delay_s: float) -> None:
        self.sends.append((destination, delay_s))

    def failed(self, destination: str) -> None:
        self.failures.append(destination)


async def test_the_observer_hears_of_each_acknowledged_send_and_each_failure(stack, test_id, database, signer):
    observer = Heard()
    async with outbox_for(stack, test_id, database, signer) as outbox:
        outbox.observer = observer
        await outbox.send(destination="kz", stream=STREAM, kind="message.created", payload={}, event_id=new_id(),
                          created_at_ms=int(time.time() * 1000) - 250)
        with pytest.raises(ResidencyViolation):
            await outbox.send(destination="ru", stream=STREAM, kind="message.created", payload={},
                              event_id=new_id(), created_at_ms=NOW_MS)
    unreachable = f"127.0.0.1:{closed_port()}"
    async with open_event_publisher(unreachable, {}, client_id=f"{test_id}-away", timeout_s=1.0) as publisher:
        away = Outbox(signer=signer, peers={"kz"}, seqs=MongoOutboxSeqs(database, trio.CapacityLimiter(2)),
                      publisher=publisher, bootstrap_servers=unreachable, topic_prefix=f"{test_id}.",
                      send_timeout_s=1.0, ready_topics={outbox_topic(f"{test_id}.", "kz")})
        away.observer = observer
        with pytest.raises(OutboxUnavailable):
            await away.send(destination="kz", stream=STREAM, kind="message.created", payload={}, event_id=new_id(),
                            created_at_ms=NOW_MS)

    assert [destination for destination, _ in observer.sends] == ["kz"] and observer.sends[0][1] >= 0.25
    assert observer.failures == ["kz"]
