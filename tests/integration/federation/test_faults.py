"""Faults across borders (issue 5): MirrorMaker 2 killed for 60 s during traffic, then kz's Kafka
killed and started again; afterwards every acknowledged message is there exactly once and in order.

Two private chats between ru and kz, each participant sending numbered messages as a client would:
one at a time, the same client id again after a failure until the node acknowledges it. The stack's
`mirrormaker` and `kz/kafka` are killed with SIGKILL (`Stack.stop_service(..., crash=True)`) and
started again on the same data; this test always leaves them running and healthy. It disturbs the
shared stack for a couple of minutes, so it is marked `disruptive` and runs after every other test
(tests/conftest.py).
"""

from __future__ import annotations

import json
import math
import time
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from functools import partial

import pytest
import trio
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from pymongo import MongoClient

from svyaz.client.connection import NodeUnreachable, RemoteError, open_node_client
from svyaz.client.session import REFRESHABLE
from svyaz.node.federation.topic_names import dead_letter_topic, inbound_topic, outbox_topic
from svyaz.regions import default_state_dir
from svyaz.stack.manager import Stack
from svyaz.stack.probes import read_to_end
from svyaz.stack.process import is_running
from tests.conftest import ISSUED_TEST_IDS
from tests.integration.access.test_attack_script import PASSWORD, login, register_and_login
from tests.integration.federation.test_private_chats_across_borders import CROSSING_S, until

pytestmark = [pytest.mark.usefixtures("stack"), pytest.mark.disruptive]

MM2_OUTAGE_S = 60.0  # the issue's figure
KAFKA_OUTAGE_S = 20.0
DRAIN_BOUND_S = 180.0
# A broker killed with SIGKILL recovers its logs before it listens: minutes on a busy machine.
RESTART_BOUND_S = 300.0
SETTLE_S = 10.0  # traffic between a restart and the next fault (and the end)
# Two chats, each participant sending one message a second: 2 messages/s each way, well under the
# per-account limit (5/s steady, burst 30) even with retries. Not the 5/s each way the issue
# suggests: on the shared dev stack a node applied a peer's backlog at 2.5-5.5 records/s, so at 5/s
# a backlog would not shrink before the traffic stops (docs/federation.md, "Faults").
SEND_INTERVAL_S = 1.0
CALL_BOUND_S = 30.0  # a call with no answer by then is given up and sent again, as a client would
# What a client retries (same client id): the node or one of its dependencies is away for a while.
TRANSIENT = frozenset({"not_published", "store_unavailable", "dependency_unavailable", "unavailable",
                       "rate_limited", "not_confirmed"})
FAULTED = ("kz/kafka", "mirrormaker")  # the order they are started in if the test stops early


@dataclass(frozen=True)
class Acknowledged:
    sender: str
    client_id: str
    number: int


@dataclass
class Sender:
    """One account sending numbered messages to one peer, one at a time, each until acknowledged.
    Like a real client it renews its access token (5 min) when the node asks (`reauth`), and after a
    refused reconnection."""

    url: str
    account: str
    tokens: dict  # the sign-in's answer: access_token, refresh_token
    to: str
    chat: str
    acked: list[Acknowledged] = field(default_factory=list)
    failures: Counter = field(default_factory=Counter)  # by error code: each one retried
    reconnects: int = 0
    pushes: int = 0
    _refreshing: trio.Lock = field(default_factory=trio.Lock, repr=False)

    async def run(self, stop: trio.Event) -> None:
        """Until `stop` is set, and then until the message in hand is acknowledged."""
        number, client_id, tick = 0, None, trio.current_time()
        while True:
            try:
                async with open_node_client(self.url, access_token=self.tokens["access_token"]) as client, \
                        trio.open_nursery() as nursery:
                    nursery.start_soon(self._read_pushes, client, nursery)
                    while True:
                        if client_id is None:
                            if stop.is_set():
                                nursery.cancel_scope.cancel()
                                return
                            number, client_id = number + 1, uuid.uuid4().hex
                        await self._send_until_acknowledged(client, number, client_id)
                        self.acked.append(Acknowledged(self.account, client_id, number))
                        client_id = None
                        tick = max(tick + SEND_INTERVAL_S, trio.current_time())
                        await trio.sleep_until(tick)
            except NodeUnreachable as err:  # the connection dropped, or the node refused a new one
                self.failures[err.code] += 1
                self.reconnects += 1
                await trio.sleep(0.5)
            except RemoteError as err:  # a connection refused for its token
                if err.code not in REFRESHABLE:
                    raise
                self.failures[err.code] += 1
                await self._refresh(self.tokens["access_token"])

    async def _send_until_acknowledged(self, client, number: int, client_id: str) -> None:
        while True:
            with trio.move_on_after(CALL_BOUND_S):
                try:
                    await client.call("message.send", to=self.to, text=f"{self.account} #{number}",
                                      client_id=client_id)
                    return
                except RemoteError as err:
                    if err.code not in TRANSIENT:
                        raise
                    self.failures[err.code] += 1
                    await trio.sleep(err.retry_after_s or 0.5)
                    continue
            self.failures["no_answer"] += 1

    async def _read_pushes(self, client, nursery: trio.Nursery) -> None:
        # A client must read its pushes (its own messages echoed, the other side's arriving).
        async for frame in client.pushes:
            self.pushes += 1
            if frame.get("type") == "reauth":
                nursery.start_soon(self._reauthenticate, client)

    async def _reauthenticate(self, client) -> None:
        await self._refresh(self.tokens["access_token"])
        try:
            await client.authenticate(self.tokens["access_token"])
        except (NodeUnreachable, RemoteError):
            pass  # the connection is closing anyway; the next one uses the fresh token

    async def _refresh(self, stale: str) -> None:
        """Replace the access token `stale` (once: a refresh token is spent by its use, and a spent
        one used again revokes the session); on failure the next attempt tries again."""
        async with self._refreshing:
            if self.tokens["access_token"] != stale:
                return
            try:
                async with open_node_client(self.url) as anonymous:
                    self.tokens = await anonymous.call("auth.refresh", refresh_token=self.tokens["refresh_token"])
            except (NodeUnreachable, RemoteError) as err:
                self.failures[f"refresh: {err.code}"] += 1
                await trio.sleep(0.5)


class Stores:
    """Each node's `private` database, read the way the other federation tests do (the store)."""

    def __init__(self, federation) -> None:
        self._clients = {region: MongoClient(node.config.store.url) for region, node in federation.nodes.items()}
        self._names = {region: f"{node.config.store.database_prefix}_private"
                       for region, node in federation.nodes.items()}

    def messages(self, region: str, chat: str) -> list[tuple[str, str]]:
        """(sender, client id) of `chat`'s messages on `region`'s node, in its seq order."""
        found = self._clients[region][self._names[region]]["messages"].find(
            {"chat": chat}, {"sender": 1, "client_id": 1, "seq": 1}).sort("seq", 1)
        return [(doc["sender"], doc["client_id"]) for doc in found]

    async def arrived(self, region: str, chat: str, expected: list[Acknowledged]) -> bool:
        stored = set(await trio.to_thread.run_sync(self.messages, region, chat))
        return all((sent.sender, sent.client_id) in stored for sent in expected)

    def close(self) -> None:
        for client in self._clients.values():
            client.close()


async def test_acknowledged_messages_survive_mirrormaker_and_kafka_outages_exactly_once_in_order(
        federation, test_id):
    ru, kz = federation["ru"], federation["kz"]
    stack = Stack(default_state_dir(), progress=lambda line: print(f"[stack] {line}", flush=True))
    stores = Stores(federation)
    home = {"@alice:ru": "ru", "@anna:ru": "ru", "@bob:kz": "kz", "@berik:kz": "kz"}
    tokens = {account: await register_and_login(federation[region], account) for account, region in home.items()}
    pairs = [("@alice:ru", "@bob:kz"), ("@anna:ru", "@berik:kz")]
    senders = [Sender(federation[home[a]].url, a, tokens[a], b, f"dm/{ru_side}/{kz_side}")
               for ru_side, kz_side in pairs for a, b in ((ru_side, kz_side), (kz_side, ru_side))]
    observed: dict[str, float] = {}
    began = time.monotonic()

    def crossed(of: list[Sender]) -> list[tuple[str, str, list[Acknowledged]]]:
        """(receiving region, chat, acknowledged so far) of each sender in `of`."""
        return [("kz" if home[s.account] == "ru" else "ru", s.chat, list(s.acked)) for s in of]

    async def until_arrived(expected, bound_s: float = DRAIN_BOUND_S) -> float:
        started = time.monotonic()
        for region, chat, acked in expected:
            await until(lambda: stores.arrived(region, chat, acked), bound_s=bound_s)
        return time.monotonic() - started

    async def time_drain(fault: str) -> None:
        """Per direction, how long until what was acknowledged by now has arrived (reported, not
        asserted: the final wait below is). Traffic and the next fault go on meanwhile."""
        expected = crossed(senders)

        async def direction(receiver: str) -> None:
            origin = "ru" if receiver == "kz" else "kz"
            mine = [item for item in expected if item[0] == receiver]
            observed[f"{fault} backlog {origin}->{receiver} arrived after s"] = await until_arrived(
                mine, bound_s=math.inf)

        with trio.move_on_after(3 * DRAIN_BOUND_S):
            async with trio.open_nursery() as both:
                both.start_soon(direction, "kz")
                both.start_soon(direction, "ru")

    async def report_progress() -> None:
        # Printed (shown by pytest when the test fails): where each link's backlog is stuck, if it is.
        while True:
            await trio.sleep(10)
            line = await trio.to_thread.run_sync(_link_positions, federation, test_id)
            counts = []
            for sender in senders:
                region = "kz" if home[sender.account] == "ru" else "ru"
                stored = await trio.to_thread.run_sync(stores.messages, region, sender.chat)
                mine = sum(1 for who, _ in stored if who == sender.account)
                counts.append(f"{sender.account}: {len(sender.acked)} acked, {mine} in {region}")
            print(f"[{time.monotonic() - began:5.0f}s] {'; '.join(counts)} | {line}", flush=True)

    stop = trio.Event()
    try:
        async with trio.open_nursery() as background:
            background.start_soon(report_progress)
            async with trio.open_nursery() as traffic:
                for sender in senders:
                    traffic.start_soon(sender.run, stop)
                # Both ways flowing first (MirrorMaker 2 has found this test's outboxes).
                await until(lambda: all(s.acked for s in senders))
                await until_arrived(crossed(senders), bound_s=CROSSING_S)
                await trio.sleep(3)

                for name, outage_s in (("mirrormaker", MM2_OUTAGE_S), ("kz/kafka", KAFKA_OUTAGE_S)):
                    print(f"[{time.monotonic() - began:5.0f}s] killing {name}", flush=True)
                    assert stack.stop_service(name, crash=True)
                    observed[f"{name} down s"] = await _stay_down(stack, name, outage_s)
                    restarting = time.monotonic()
                    await trio.to_thread.run_sync(partial(stack.start_service, name, timeout_s=RESTART_BOUND_S))
                    observed[f"{name} restart until healthy s"] = time.monotonic() - restarting
                    background.start_soon(time_drain, name)
                    await trio.sleep(SETTLE_S)

                stop.set()  # each sender stops once its message in hand is acknowledged
                traffic.cancel_scope.deadline = trio.current_time() + DRAIN_BOUND_S
            assert not traffic.cancel_scope.cancelled_caught, "a send was never acknowledged"
            observed["final drain s"] = await until_arrived(crossed(senders))
            await until(lambda: len(observed) == 9, bound_s=10)  # the drains timed above too
            background.cancel_scope.cancel()
    finally:
        stop.set()
        for name in FAULTED:  # whatever happened above, the shared stack is left whole
            await trio.to_thread.run_sync(partial(stack.start_service, name, timeout_s=RESTART_BOUND_S))
        await _until_mirroring_works(stack, federation)

    try:
        observed["total s"] = time.monotonic() - began
        for sender in senders:
            print(f"{sender.account} -> {sender.to}: {len(sender.acked)} acknowledged, retried "
                  f"{dict(sender.failures)}, {sender.reconnects} reconnects, {sender.pushes} pushes")
        duplicates = _duplicate_crossings(federation, test_id)
        print("observed:", {key: round(value, 1) for key, value in observed.items()}, "duplicates:", duplicates)

        # Exactly once, in each sender's order, on both nodes storing the chat.
        for region in ("ru", "kz"):
            for chat in {sender.chat for sender in senders}:
                stored = stores.messages(region, chat)
                assert len(stored) == len(set(stored)), f"{region} stores a message of {chat} twice"
                for sender in (s for s in senders if s.chat == chat):
                    sent = [a.client_id for a in sender.acked]
                    theirs = [client_id for who, client_id in stored if who == sender.account]
                    assert theirs == sent, f"{region}: {sender.account}'s messages in {chat} " \
                                           f"are not the {len(sent)} acknowledged ones in order"
        # What a reader sees: the numbered texts in order, read through the API.
        bob = await login(kz, "@bob:kz", PASSWORD, address="10.1.0.1")  # the first sign-in's token has expired
        history = await _history(kz, bob["access_token"], "dm/@alice:ru/@bob:kz")
        alice = next(s for s in senders if s.account == "@alice:ru")
        assert [m["text"] for m in history if m["sender"] == "@alice:ru"] == \
            [f"@alice:ru #{a.number}" for a in alice.acked]

        # Nothing refused on the way: no dead letters, and the nodes came back ready.
        for region, node in federation.nodes.items():
            status = await _side_port(node, "/federation")
            refused = {peer: view["inbound"]["refused"] for peer, view in status["peers"].items()}
            assert refused == {peer: {} for peer in refused} and status["other_origins"] == {}, \
                f"{region} refused records: {refused} {status['other_origins']}"
            assert _records(node.config.kafka.bootstrap_servers, dead_letter_topic(f"{test_id}.")) == 0
        for node in (ru, kz):
            await until(lambda: _ready(node), bound_s=30)
    finally:
        stores.close()


# The flows a restart of kz's Kafka may disturb: into kz, and out of it.
KZ_FLOWS = (("ru", "kz"), ("by", "kz"), ("kz", "ru"), ("kz", "by"))
MIRROR_PROBE_S = 90.0


async def _until_mirroring_works(stack: Stack, federation) -> None:
    """Leave MirrorMaker 2 carrying new topics on every flow touching kz, restarting it if not.

    A flow whose worker lost its group while kz was down copies nothing, new topics included, until
    Connect gives its connector back (at once with the generated `kz.scheduled.rebalance.max.delay.ms
    = 0`, svyaz/federation/mm2.py). If it has not, every later test's first crossing on that flow
    would wait for it. A restart is printed, not failed."""
    probe = f"t{uuid.uuid4().hex[:8]}"
    ISSUED_TEST_IDS.add(probe)  # the session's clean-up removes the probe topics and their copies
    stuck = await trio.to_thread.run_sync(_unmirrored, federation, probe)
    if stuck:
        print(f"WARNING: MirrorMaker 2 did not copy a new topic on {', '.join(stuck)} after the faults; "
              "restarting it", flush=True)
        await trio.to_thread.run_sync(partial(stack.stop_service, "mirrormaker"))
        await trio.to_thread.run_sync(stack.start_service, "mirrormaker")
        stuck = await trio.to_thread.run_sync(_unmirrored, federation, probe)
        assert not stuck, f"MirrorMaker 2 copies no new topic on {', '.join(stuck)} even after a restart"


def _unmirrored(federation, probe: str) -> list[str]:
    """The flows of KZ_FLOWS on which a new outbox topic of `probe` was not copied in time."""
    for origin, destination in KZ_FLOWS:
        # Created by its first record (the brokers create topics on demand), so no AdminClient.
        producer = Producer({"bootstrap.servers": federation[origin].config.kafka.bootstrap_servers,
                             "log_level": 0})
        producer.produce(outbox_topic(f"{probe}.", destination), b"probe")
        producer.flush(10)
    waiting = {(origin, destination) for origin, destination in KZ_FLOWS}
    deadline = time.monotonic() + MIRROR_PROBE_S
    while waiting and time.monotonic() < deadline:
        for origin, destination in sorted(waiting):
            consumer = _consumer(federation[destination].config.kafka.bootstrap_servers)
            try:
                copy = inbound_topic(f"{probe}.", origin, destination)
                if consumer.list_topics(copy, timeout=5).topics[copy].error is None:
                    waiting.discard((origin, destination))
            except KafkaException:
                pass
            finally:
                consumer.close()
        time.sleep(1)
    return [f"{origin}->{destination}" for origin, destination in sorted(waiting)]


async def _stay_down(stack: Stack, name: str, outage_s: float) -> float:
    """Wait `outage_s` after killing `name`; how long it really stayed down. On the shared stack
    another session's `svyaz stack up` (every integration run's `stack` fixture) starts what is
    missing, so an outage may end sooner; that is printed, not failed."""
    killed = time.monotonic()
    while time.monotonic() - killed < outage_s:
        record = stack.table.load().get(name)
        if record is not None and is_running(record):
            down_s = time.monotonic() - killed
            print(f"WARNING: {name} was started again by someone else after {down_s:.0f}s of {outage_s:.0f}s",
                  flush=True)
            await trio.sleep(outage_s - down_s)
            return down_s
        await trio.sleep(0.5)
    return time.monotonic() - killed


async def _history(node, token: str, chat: str) -> list[dict]:
    """Every message of `chat`, oldest first, a page at a time."""
    messages: list[dict] = []
    async with open_node_client(node.url, access_token=token) as client:
        after = 0
        while True:
            page = (await client.call("message.history", chat=chat, after=after, limit=100))["messages"]
            if not page:
                return messages
            messages += page
            after = page[-1]["seq"]


async def _side_port(node, path: str) -> dict:
    def get() -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{node.ports.http}{path}", timeout=5) as answer:
            return json.load(answer)

    return await trio.to_thread.run_sync(get)


async def _ready(node) -> bool:
    def get() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{node.ports.http}/readyz", timeout=5) as answer:
                return answer.status == 200
        except OSError:
            return False

    return await trio.to_thread.run_sync(get)


def _consumer(bootstrap: str) -> Consumer:
    # librdkafka would print each refused connection while a cluster is down.
    return Consumer({"bootstrap.servers": bootstrap, "group.id": f"faults-{uuid.uuid4().hex}",
                     "enable.auto.commit": False, "log_level": 0})


def _records(bootstrap: str, topic: str) -> int:
    """How many records `topic` holds on a cluster (0 if it does not exist)."""
    consumer = _consumer(bootstrap)
    try:
        described = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if described is None or described.error is not None:
            return 0
        total = 0
        for partition in described.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            total += high - low
        return total
    finally:
        consumer.close()


def _duplicate_crossings(federation, test_id: str) -> dict[str, int]:
    """Per link, records that carried an (origin, stream, seq) already carried: the forwarder's
    re-sends in the origin's outbox, MirrorMaker 2's re-deliveries in the copy the receiver reads
    (its ledger ignores both). Reported, not asserted: at least once allows them."""
    prefix = f"{test_id}."
    counts = {}
    for origin, destination in (("ru", "kz"), ("kz", "ru")):
        for where, region, topic in (("outbox", origin, outbox_topic(prefix, destination)),
                                     ("inbound", destination, inbound_topic(prefix, origin, destination))):
            consumer = _consumer(federation[region].config.kafka.bootstrap_servers)
            try:
                seen = Counter((doc["stream"], doc["seq"]) for doc in
                               (json.loads(record.value()) for record in read_to_end(consumer, [topic])))
            finally:
                consumer.close()
            counts[f"{origin}->{destination} {where}"] = sum(seen.values()) - len(seen)
            counts[f"{origin}->{destination} {where} records"] = sum(seen.values())
    return counts


def _link_positions(federation, test_id: str) -> str:
    """Per link: records in the origin's outbox, in the receiver's copy, and how far its inbound
    consumer group has committed."""
    prefix, parts = f"{test_id}.", []
    for origin, destination in (("ru", "kz"), ("kz", "ru")):
        source = federation[origin].config.kafka.bootstrap_servers
        target = federation[destination].config.kafka.bootstrap_servers
        inbound = inbound_topic(prefix, origin, destination)
        try:
            parts.append(f"{origin}->{destination} outbox {_records(source, outbox_topic(prefix, destination))}, "
                         f"copied {_records(target, inbound)}, "
                         f"applied {_committed(target, f'{prefix}federation.inbound', inbound)}")
        except Exception as err:  # noqa: BLE001 - a cluster that is down right now
            parts.append(f"{origin}->{destination} ? ({type(err).__name__})")
    return "; ".join(parts)


def _committed(bootstrap: str, group: str, topic: str) -> int:
    """The offsets `group` has committed on `topic`, summed over its partitions. (A consumer that
    never subscribes does not join the group. Not an AdminClient: one dropped while its request is
    outstanding, as happens while a cluster is down, can crash the process when the answer comes.)"""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                         "log_level": 0})
    try:
        described = consumer.list_topics(topic, timeout=5).topics.get(topic)
        if described is None or described.error is not None:
            return 0
        offsets = consumer.committed([TopicPartition(topic, p) for p in described.partitions], timeout=5)
        return sum(max(tp.offset, 0) for tp in offsets)
    finally:
        consumer.close()
