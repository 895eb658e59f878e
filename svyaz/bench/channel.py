"""`svyaz bench channel`: a channel with a million stored subscribers, ten thousand of them online.
How long until every online subscriber has a new post (p50/p99/max), and what one post writes —
documents in the store, store write commands, Kafka records — measured at two subscriber counts to
show it does not grow with them.

One run: a node of its own (under `svyaz.bench.nodetrace`, which counts its store commands), an
owner and its channel, `--online` accounts registered, signed in and subscribed through the
gateway (the real subscribe path), then connected again as listeners in separate processes
(svyaz.bench.listeners: raw sockets, one epoll loop each, so the figures are the node's rather
than a Python client's), then `--posts` posts with only those subscribers stored, then the
remaining subscribers stored in bulk (svyaz.bench.seed) and `--posts` posts again.

Delivery time of a post to a subscriber = from just before the `channel.post` frame leaves to the
moment that subscriber's socket read returned the post's `message.created` event (wall clock, one
machine).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import trio
from confluent_kafka import Consumer, TopicPartition

from svyaz.bench import procstat
from svyaz.bench.fanout import FanoutTally
from svyaz.bench.fleet import PASSWORD, Fleet, retry_setup_call
from svyaz.bench.nodeproc import BenchError, NodeProcess, open_node_process, until_ready_again
from svyaz.bench.seed import count_documents, seed_subscribers
from svyaz.client.connection import open_node_client

WRITE_COMMANDS = ("insert", "update", "delete", "findAndModify")
POST_TEXT = "Release notes: https://svyaz.example/notes and the mirror https://mirror.svyaz.example/n"
ITERATIONS_NOTE = ("the bench's node hashes passwords with 1,000 PBKDF2 iterations instead of 10,000: that "
                   "speeds up registering the online subscribers only; posting hashes no password")


@dataclass(frozen=True)
class ChannelOptions:
    subscribers: int = 1_000_000
    online: int = 10_000
    posts: int = 5
    gap_s: float = 2.0
    delivery_timeout_s: float = 60.0
    enrol_concurrency: int = 8
    connect_concurrency: int = 50
    subscribe_concurrency: int = 50
    listener_processes: int = 2
    seed_batch: int = 10_000
    store_url: str = "mongodb://127.0.0.1:27117/"
    kafka: str = "127.0.0.1:19092"

    def __post_init__(self) -> None:
        if self.online < 2 or self.online % 2:
            raise BenchError("--online must be an even number, at least 2")
        if self.subscribers < self.online:
            raise BenchError("--subscribers must be at least --online")


async def run_channel(options: ChannelOptions, progress: Callable[[str], None]) -> dict[str, Any]:
    report: dict[str, Any] = {"machine_before": procstat.machine(), "options": asdict(options)}
    trace = Path(tempfile.mkdtemp(prefix="svyaz-bench-channel-")) / "node-trace.json"
    async with AsyncExitStack() as stack:
        progress("starting a node of the bench's own ...")
        # Room for every online subscriber, the owner and the subscribers' first connections still
        # closing (the default allows 10,000 per process).
        node = await stack.enter_async_context(open_node_process(
            store_url=options.store_url, kafka=options.kafka, trace_to=trace,
            extra={"SVYAZ_GATEWAY__MAX_CONNECTIONS": str(2 * options.online + 100)}))
        report["node"] = {"url": node.url, "pid": node.pid, "note": ITERATIONS_NOTE}
        await _measure(options, node, report, progress)
    buckets = json.loads(trace.read_text()) if trace.exists() else {}
    for phase in report["phases"]:
        for post in phase["posts"]:
            post["store_writes"] = writes_between(buckets, *post.pop("window_wall"))
        phase["store_write_commands_per_post"] = _mean(sum(p["store_writes"].values()) for p in phase["posts"])
    report["machine_after"] = procstat.machine()
    return report


async def _measure(options: ChannelOptions, node: NodeProcess, report: dict[str, Any],
                   progress: Callable[[str], None]) -> None:
    prefix = node.settings["SVYAZ_STORE__DATABASE_PREFIX"]
    topic = node.settings["SVYAZ_KAFKA__TOPIC_PREFIX"] + "channel.events"
    owner_account = f"@owner{node.settings['SVYAZ_NODE__ID'][-8:]}:ru"
    async with open_node_client(node.url) as anonymous:
        await retry_setup_call(anonymous.call, "account.register", account=owner_account, password=PASSWORD)
        tokens = await retry_setup_call(anonymous.call, "auth.login", account=owner_account, password=PASSWORD,
                                        device="bench")
    async with open_node_client(node.url, access_token=tokens["access_token"]) as owner, \
            trio.open_nursery() as nursery:
        nursery.start_soon(_drain, owner)
        channel = (await owner.call("channel.create", title="Bench channel"))["chat"]
        tally = FanoutTally(channel, options.online)
        fleet = Fleet(node.url, options.online)
        progress(f"registering and signing in {options.online} subscribers ...")
        enrol_s = await fleet.enrol(concurrency=options.enrol_concurrency)
        progress(f"subscribing them to {channel} through the gateway ...")
        subscribe_s = await _subscribe_all(fleet, channel, options)
        progress("waiting for the node to be ready again (each departure was a presence write) ...")
        await until_ready_again(node)
        rss_before = procstat.rss_if_running(node.pid)
        progress(f"connecting them as listeners in {options.listener_processes} processes ...")
        began = time.perf_counter()
        listeners = await nursery.start(_run_listeners, node.url, channel, fleet, options.listener_processes, tally)
        connect_s = time.perf_counter() - began
        rss_connected = procstat.rss_if_running(node.pid)
        report["setup"] = {
            "channel": channel, "online": options.online, "listener_processes": options.listener_processes,
            "enrol_s": round(enrol_s, 1), "subscribe_s": round(subscribe_s, 1), "connect_s": round(connect_s, 1),
            "node_rss_before_connect_mib": procstat.mib(rss_before),
            "node_rss_connected_mib": procstat.mib(rss_connected),
        }
        progress("a warm-up post, until every online subscriber has it ...")
        report["warmup"] = tally.figures(await _post(owner, tally, channel, options.delivery_timeout_s))
        phases = [await _phase(options, node, owner, tally, channel, topic, prefix, options.online, progress)]
        progress(f"storing {options.subscribers - options.online} more subscribers in bulk ...")
        began = time.perf_counter()
        await trio.to_thread.run_sync(partial(
            seed_subscribers, options.store_url, prefix, channel, options.subscribers - options.online,
            tag=fleet.tag, batch=options.seed_batch,
            progress=lambda done: trio.from_thread.run_sync(_every_100k, done, progress)))
        report["setup"]["seed_s"] = round(time.perf_counter() - began, 1)
        phases.append(await _phase(options, node, owner, tally, channel, topic, prefix, options.subscribers,
                                   progress))
        report["phases"] = phases
        report["connections_lost"] = listeners.closed
        nursery.cancel_scope.cancel()


@dataclass
class _Listeners:
    closed: int = 0


async def _run_listeners(url: str, channel: str, fleet: Fleet, processes: int, tally: FanoutTally, *,
                         task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Hold every subscriber's connection in `processes` listener processes (svyaz.bench.listeners),
    feeding their arrivals to `tally`; started once all are connected. Runs until cancelled."""
    state = _Listeners()
    tokens = [member.access_token for member in fleet.members]
    share = -(-len(tokens) // processes)
    ready = 0
    all_ready = trio.Event()

    starts = range(0, len(tokens), share)

    async def one(first: int) -> None:
        nonlocal ready
        command = [sys.executable, "-m", "svyaz.bench.listeners", url, channel, str(first)]
        process = await trio.lowlevel.open_process(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            await process.stdin.send_all(json.dumps(tokens[first:first + share]).encode())
            await process.stdin.aclose()
            async for line in _lines(process.stdout):
                word, _, rest = line.partition(" ")
                if word == "ready":
                    ready += 1
                    if ready == len(starts):
                        all_ready.set()
                elif word == "closed":
                    state.closed += 1
                else:
                    index, at = rest.split(" ")
                    tally.arrived(int(index), int(word), float(at))
            raise BenchError(f"a listener process ended early (status {await process.wait()})")
        finally:
            with trio.CancelScope(shield=True):
                process.kill()
                await process.wait()

    async with trio.open_nursery() as nursery:
        for first in starts:
            nursery.start_soon(one, first)
        with trio.fail_after(600):
            await all_ready.wait()
        task_status.started(state)


async def _lines(stream) -> AsyncIterator[str]:
    pending = b""
    while chunk := await stream.receive_some(1 << 16):
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line.decode()


async def _drain(client) -> None:
    """The owner's own events (the echo of each post): read, so its connection never falls behind."""
    async for _frame in client.pushes:
        pass


async def _subscribe_all(fleet: Fleet, channel: str, options: ChannelOptions) -> float:
    """Connect every member, subscribe it through the gateway, and let it go again."""
    began = time.perf_counter()
    limiter = trio.CapacityLimiter(options.subscribe_concurrency)

    async def subscribe(member) -> None:
        async with limiter:
            await retry_setup_call(member.client.call, "channel.subscribe", channel=channel)

    async with trio.open_nursery() as holding:
        await holding.start(partial(fleet.run, concurrency=options.connect_concurrency))
        async with trio.open_nursery() as nursery:
            for member in fleet.members:
                nursery.start_soon(subscribe, member)
        fleet.close()
    return time.perf_counter() - began


async def _phase(options: ChannelOptions, node: NodeProcess, owner, tally: FanoutTally, channel: str, topic: str,
                 prefix: str, stored: int, progress: Callable[[str], None]) -> dict[str, Any]:
    progress(f"{options.posts} posts with {stored} subscribers stored ...")
    documents_before = await trio.to_thread.run_sync(count_documents, options.store_url, prefix)
    records_before = await trio.to_thread.run_sync(_records, options.kafka, topic)
    cpu_before, began = _node_cpu(node.pid), time.perf_counter()
    posts = []
    for _ in range(options.posts):
        await trio.sleep(options.gap_s)   # store commands are counted per wall-clock second: keep posts apart
        wall_start = time.time()
        post = await _post(owner, tally, channel, options.delivery_timeout_s)
        posts.append({**tally.figures(post), "window_wall": (wall_start, time.time())})
        progress(f"  post #{post.seq}: {_one_line(posts[-1])}")
    seconds = time.perf_counter() - began
    cpu_after = _node_cpu(node.pid)
    records_after = await trio.to_thread.run_sync(_records, options.kafka, topic)
    documents_after = await trio.to_thread.run_sync(count_documents, options.store_url, prefix)
    added = {name: documents_after.get(name, 0) - documents_before.get(name, 0)
             for name in sorted(set(documents_before) | set(documents_after))}
    added = {name: count for name, count in added.items() if count}
    return {
        "stored_subscribers": documents_after.get("channels.members", 0),
        "online_subscribers": options.online,
        "posts": posts,
        "delivery_ms_all_posts": tally.overall({post["seq"] for post in posts}),
        "documents_added_per_post": {name: count / options.posts for name, count in added.items()},
        "kafka_records_per_post": (records_after - records_before) / options.posts,
        "node_cores": None if cpu_before is None or cpu_after is None else round((cpu_after - cpu_before) / seconds, 3),
        "node_rss_mib": procstat.mib(procstat.rss_if_running(node.pid)),
        "load_average": procstat.machine()["load_average"],
    }


async def _post(owner, tally: FanoutTally, channel: str, timeout_s: float):
    post = tally.sending(time.time())
    result = await owner.call("channel.post", channel=channel, text=POST_TEXT,
                              client_id=f"bench{len(tally.posts):06d}{os.getpid()}")
    tally.acked(post, result["seq"], time.time())
    with trio.move_on_after(timeout_s):
        while not tally.complete(post):
            await trio.sleep(0.01)
    return post


def writes_between(buckets: dict[str, dict[str, list[float]]], start: float, end: float) -> dict[str, int]:
    """Store write commands the node issued in the wall-clock seconds [start, end], by name."""
    writes: dict[str, int] = {}
    for second in range(int(start), int(end) + 1):
        for name, (count, _spent) in buckets.get(str(second), {}).items():
            if name.rsplit(" ", 1)[-1] in WRITE_COMMANDS:
                writes[name.removeprefix("store ")] = writes.get(name.removeprefix("store "), 0) + int(count)
    return writes


def _records(kafka: str, topic: str) -> int:
    """Records in `topic` so far: the sum of its partitions' high watermarks."""
    consumer = Consumer({"bootstrap.servers": kafka, "group.id": "svyaz-bench-watermarks", "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions)
    finally:
        consumer.close()


def _every_100k(done: int, progress: Callable[[str], None]) -> None:
    if done % 100_000 == 0:
        progress(f"  {done} stored")


def _one_line(post: dict[str, Any]) -> str:
    d = post["delivery_ms"] or {}
    return (f"ack {post['ack_ms']} ms; {post['received']}/{post['expected']} subscribers, p50 {d.get('p50')} "
            f"p99 {d.get('p99')} max {d.get('max')} ms")


def _mean(values) -> float | None:
    values = list(values)
    return round(sum(values) / len(values), 2) if values else None


def _node_cpu(pid: int) -> float | None:
    try:
        return procstat.cpu_seconds(pid)
    except (FileNotFoundError, ProcessLookupError):
        return None




def render_channel(report: dict[str, Any]) -> str:
    setup = report["setup"]
    lines = [
        f"node: {report['node']['url']} (started by the bench); {report['node']['note']}",
        f"machine: {report['machine_before']['cpus']} CPUs, load average before "
        f"{report['machine_before']['load_average']}, after {report['machine_after']['load_average']}",
        f"channel {setup['channel']}: {setup['online']} subscribers registered and signed in in {setup['enrol_s']} s, "
        f"subscribed in {setup['subscribe_s']} s, connected as listeners ({setup['listener_processes']} processes) in "
        f"{setup['connect_s']} s; the rest stored in {setup.get('seed_s', '-')} s",
        "",
        f"{'stored':>9} {'online':>7} {'posts':>5} {'p50':>8} {'p99':>8} {'max':>8} {'ack p50':>8} "
        f"{'docs/post':>9} {'writes/post':>11} {'kafka/post':>10} {'node':>5}",
    ]
    for phase in report["phases"]:
        d = phase["delivery_ms_all_posts"] or {}
        acks = sorted(p["ack_ms"] for p in phase["posts"] if p["ack_ms"] is not None)
        lines.append(
            f"{phase['stored_subscribers']:>9} {phase['online_subscribers']:>7} {len(phase['posts']):>5} "
            f"{d.get('p50', '-'):>8} {d.get('p99', '-'):>8} {d.get('max', '-'):>8} "
            f"{acks[len(acks) // 2] if acks else '-':>8} {sum(phase['documents_added_per_post'].values()):>9g} "
            f"{phase['store_write_commands_per_post'] or 0:>11g} {phase['kafka_records_per_post']:>10g} "
            f"{phase['node_cores'] if phase['node_cores'] is not None else '-':>5}")
    lines += ["", "delivery (post sent -> each online subscriber's socket has it) and ack in ms; node in cores used"]
    for phase in report["phases"]:
        missing = sum(p["missing"] for p in phase["posts"])
        lines.append(f"  {phase['stored_subscribers']} stored: documents added per post "
                     f"{phase['documents_added_per_post']}; write commands per post "
                     f"{phase['posts'][0]['store_writes'] if phase['posts'] else {}}; "
                     f"{missing} deliveries missing")
    if report.get("connections_lost"):
        lines.append(f"connections lost: {report['connections_lost']}")
    return "\n".join(lines)
