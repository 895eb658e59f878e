"""`svyaz bench latency`: send→receive latency of 1:1 text at an aggregate open-loop rate, over a
fleet of connected clients, with the CPU and memory of the node (and of the machine) meanwhile.

One run: a node of its own (or `--node-url`), N accounts registered and signed in, the node's RSS
before and after they all connect (memory per idle connection), then for each rate: warm-up,
measured window, a grace period for late deliveries, and the figures of the window.

Latency of a message = from just before its `message.send` frame leaves to the recipient's
`message.created` event coming off its connection, both read from this process's
`time.perf_counter`. Ack latency = from the same instant to the call's result.
"""

from __future__ import annotations

import json
import os
import pstats
import random
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import trio

from svyaz.bench import procstat
from svyaz.bench.fleet import Fleet, partner
from svyaz.bench.nodeproc import open_node_process
from svyaz.bench.schedule import InFlightLimit, arrivals
from svyaz.bench.tally import ACK_TIMEOUT, CONNECTION_CLOSED, Tally
from svyaz.bench.traces import window_costs
from svyaz.bench.verdict import Objective, RateResult, judge, sweep_verdict
from svyaz.client.connection import NodeUnreachable, RemoteError

SETTLE_S = 3.0
ITERATIONS_NOTE = ("the bench's node hashes passwords with 1,000 PBKDF2 iterations instead of 10,000: that "
                   "speeds up registration and sign-in only; no password is hashed on the messaging path")


@dataclass(frozen=True)
class LatencyOptions:
    clients: int = 1000
    rates: tuple[float, ...] = (100.0,)
    seconds: float = 60.0
    warmup_s: float = 10.0
    grace_s: float = 5.0
    pause_s: float = 3.0
    arrivals: str = "poisson"
    max_in_flight: int = 4
    ack_timeout_s: float = 10.0
    text_chars: int = 64
    seed: int | None = None
    enrol_concurrency: int = 8
    connect_concurrency: int = 50
    node_url: str | None = None
    node_pid: int | None = None
    store_url: str = "mongodb://127.0.0.1:27117/"
    kafka: str = "127.0.0.1:19092"
    profile_node: Path | None = None
    trace_node: Path | None = None


@dataclass(frozen=True)
class _Snapshot:
    at: float
    wall: float
    node_cpu: float | None
    node_threads: dict[int, tuple[str, float]]
    bench_cpu: float
    processes: dict[int, procstat.ProcessSample]


async def run_latency(options: LatencyOptions, progress: Callable[[str], None]) -> dict[str, Any]:
    report: dict[str, Any] = {"machine_before": procstat.machine(), "objective": asdict(Objective()),
                              "options": {k: (str(v) if isinstance(v, Path) else v)
                                          for k, v in asdict(options).items()}}
    async with AsyncExitStack() as stack:
        if options.node_url is None:
            progress("starting a node of the bench's own ...")
            node = await stack.enter_async_context(open_node_process(
                store_url=options.store_url, kafka=options.kafka, profile_to=options.profile_node,
                trace_to=options.trace_node))
            url, pid = node.url, node.pid
            report["node"] = {"own": True, "url": url, "pid": pid, "settings": node.settings,
                              "note": ITERATIONS_NOTE, "profiled": options.profile_node is not None,
                              "traced": options.trace_node is not None}
        else:
            url, pid = options.node_url, options.node_pid
            report["node"] = {"own": False, "url": url, "pid": pid,
                              "note": "an existing node: its own settings (rate limits, token lifetime) apply"}
        await _measure(options, url, pid, report, progress)
    if options.profile_node is not None and options.node_url is None:
        report["node_profile"] = profile_top(options.profile_node)
    if options.trace_node is not None and options.node_url is None:
        try:
            buckets = json.loads(options.trace_node.read_text())
        except (OSError, ValueError) as err:
            report["node_trace_error"] = f"no trace written: {err}"
        else:
            for run in report["runs"]:
                run["node_costs"] = window_costs(buckets, *run["window_wall"], run["send_rate"])
    return report


async def _measure(options: LatencyOptions, url: str, pid: int | None, report: dict[str, Any],
                   progress: Callable[[str], None]) -> None:
    tallies: list[Tally] = []

    def on_push(index: int, frame: dict[str, Any], at: float) -> None:
        if frame.get("type") != "event" or frame.get("kind") != "message.created" or not tallies:
            return
        if frame.get("actor") == fleet.members[index].account:
            return  # the echo of one's own send (for one's other devices)
        client_id = (frame.get("message") or {}).get("client_id")
        if isinstance(client_id, str):
            tallies[-1].delivered(client_id, recipient=index, at=at)

    fleet = Fleet(url, options.clients, on_push=on_push)
    progress(f"registering and signing in {options.clients} accounts ...")
    enrol_s = await fleet.enrol(concurrency=options.enrol_concurrency)
    await trio.sleep(SETTLE_S)
    rss_before = procstat.rss_if_running(pid)
    progress(f"connecting {options.clients} clients ...")
    async with trio.open_nursery() as nursery:
        connect_s = await nursery.start(partial(fleet.run, concurrency=options.connect_concurrency))
        await trio.sleep(SETTLE_S)
        rss_idle = procstat.rss_if_running(pid)
        report["setup"] = {
            "clients": options.clients, "enrol_s": round(enrol_s, 1), "connect_s": round(connect_s, 1),
            "node_rss_before_connect_mib": procstat.mib(rss_before),
            "node_rss_connected_idle_mib": procstat.mib(rss_idle),
            "memory_per_idle_connection_kib": (round((rss_idle - rss_before) / options.clients / 1024, 1)
                                               if rss_before is not None and rss_idle is not None else None),
        }
        rng = random.Random(options.seed)
        runs = []
        for number, rate in enumerate(options.rates, 1):
            if number > 1:
                await trio.sleep(options.pause_s)
            progress(f"rate {rate:g}/s: {options.warmup_s:g} s warm-up + {options.seconds:g} s measured ...")
            tallies.append(Tally())
            run = await _one_rate(options, fleet, pid, rate, number, tallies[-1], rng)
            runs.append(run)
            progress(_one_line(run))
        fleet.close()
        nursery.cancel_scope.deadline = trio.current_time() + 30  # a client that never answers the close
    report["runs"] = runs
    verdict = sweep_verdict([_rate_result(run) for run in runs])
    report["highest_passing_rate"] = verdict.highest_passing
    report["inconsistent_sweep"] = verdict.inconsistent
    report["machine_after"] = procstat.machine()


async def _one_rate(options: LatencyOptions, fleet: Fleet, pid: int | None, rate: float, number: int,
                    tally: Tally, rng: random.Random) -> dict[str, Any]:
    schedule = arrivals(rate, options.warmup_s + options.seconds, options.clients, kind=options.arrivals, rng=rng)
    limit = InFlightLimit(options.max_in_flight)
    text = ("bench " + "lorem ipsum dolor sit amet " * 200)[:options.text_chars]
    accounts = [member.account for member in fleet.members]
    clock_offset = time.perf_counter() - trio.current_time()
    start = trio.current_time() + 0.2
    window = (start + options.warmup_s, start + options.warmup_s + options.seconds)
    snapshots: list[_Snapshot] = []

    async def send_one(sender: int, client_id: str, measured: bool, lag: float) -> None:
        client = fleet.members[sender].client
        to = partner(sender)
        try:
            tally.sent(client_id, sender=sender, recipient=to, at=time.perf_counter(), measured=measured, lag=lag)
            with trio.move_on_after(options.ack_timeout_s) as waited:
                await client.call("message.send", to=accounts[to], text=text, client_id=client_id)
                tally.acked(client_id, time.perf_counter())
            if waited.cancelled_caught:
                tally.failed(client_id, ACK_TIMEOUT)
        except RemoteError as err:
            tally.failed(client_id, err.code)
        except NodeUnreachable:
            tally.failed(client_id, CONNECTION_CLOSED)
        finally:
            limit.release(sender)

    async def snapshot_at(moment: float) -> None:
        await trio.sleep_until(moment)
        snapshots.append(await trio.to_thread.run_sync(_snapshot, pid, moment))

    async with trio.open_nursery() as senders:
        senders.start_soon(_in_order, [lambda: snapshot_at(window[0]), lambda: snapshot_at(window[1])])
        for sequence, arrival in enumerate(schedule):
            due = start + arrival.at
            if trio.current_time() < due:
                await trio.sleep_until(due)
            else:
                await trio.lowlevel.checkpoint()  # behind schedule: still let the sends run
            measured = arrival.at >= options.warmup_s
            if fleet.members[arrival.sender].client is None or not limit.try_take(arrival.sender):
                tally.dropped(measured=measured)
                continue
            senders.start_soon(send_one, arrival.sender, f"{fleet.tag}r{number}m{sequence:08d}", measured,
                               trio.current_time() - due)
    with trio.move_on_after(options.grace_s):
        while tally.awaiting():
            await trio.sleep(0.1)
    figures = tally.figures(window[0] + clock_offset, window[1] + clock_offset)
    first, last = snapshots
    seconds = last.at - first.at
    run: dict[str, Any] = {"rate": rate, "arrivals": options.arrivals, "warmup_s": options.warmup_s,
                           "seconds": options.seconds, **figures.as_dict(),
                           "window_wall": [round(first.wall, 3), round(last.wall, 3)]}
    run["cpu"] = {
        "window_s": round(seconds, 2),
        "node_s": round(last.node_cpu - first.node_cpu, 2) if last.node_cpu is not None and first.node_cpu is not None
        else None,
        "bench_s": round(last.bench_cpu - first.bench_cpu, 2),
        "node_cores": (round((last.node_cpu - first.node_cpu) / seconds, 3)
                       if last.node_cpu is not None and first.node_cpu is not None else None),
        "node_threads_cores": (
            {name: round(spent / seconds, 3) for name, spent in sorted(procstat.thread_split(
                first.node_threads, last.node_threads, last.node_cpu - first.node_cpu).items())}
            if last.node_cpu is not None and first.node_cpu is not None else {}),
        "bench_cores": round((last.bench_cpu - first.bench_cpu) / seconds, 3),
        "machine_cores": procstat.busiest(first.processes, last.processes, seconds=seconds,
                                          names={os.getpid(): "svyaz bench", **({pid: "svyaz node"} if pid else {})}),
    }
    run["node_rss_mib"] = procstat.mib(procstat.rss_if_running(pid))
    run["load_average"] = procstat.machine()["load_average"]
    run["connections_lost"] = fleet.connection_losses()
    verdict = judge(_rate_result(run))
    run["verdict"] = {"passed": verdict.passed, "reasons": list(verdict.reasons)}
    return run


async def _in_order(steps) -> None:
    for step in steps:
        await step()


def _snapshot(pid: int | None, moment: float) -> _Snapshot:
    node_cpu = node_threads = None
    if pid is not None:
        try:
            node_cpu, node_threads = procstat.cpu_seconds(pid), procstat.thread_cpu(pid)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return _Snapshot(moment, time.time(), node_cpu, node_threads or {}, procstat.cpu_seconds(os.getpid()),
                     procstat.all_processes())


def _rate_result(run: dict[str, Any]) -> RateResult:
    delivery = run["delivery"] or {}
    return RateResult(rate=run["rate"], send_rate=run["send_rate"], scheduled=run["scheduled"],
                      failed=run["failed"], p95_ms=delivery.get("p95"), p99_ms=delivery.get("p99"),
                      seconds=run["seconds"])




def _one_line(run: dict[str, Any]) -> str:
    d = run["delivery"] or {}
    verdict = "PASS" if run["verdict"]["passed"] else "fail: " + "; ".join(run["verdict"]["reasons"])
    return (f"  {run['rate']:g}/s asked, {run['send_rate']}/s sent, delivery p50 {d.get('p50')} p95 {d.get('p95')} "
            f"p99 {d.get('p99')} max {d.get('max')} ms, errors {run['errors'] or 'none'}, node "
            f"{run['cpu']['node_cores']} cores: {verdict}")


def profile_top(path: Path, limit: int = 25) -> dict[str, Any]:
    """The node's main-thread profile (cProfile sees only the thread it runs on), top by own time."""
    try:
        stats = pstats.Stats(str(path))
    except (OSError, TypeError, EOFError) as err:
        return {"path": str(path), "error": f"no profile written: {err}"}
    rows = []
    for (filename, line, name), (calls, _primitive, tottime, cumtime, _callers) in stats.stats.items():
        rows.append({"function": f"{_short(filename)}:{line}({name})", "calls": calls,
                     "own_s": round(tottime, 3), "cumulative_s": round(cumtime, 3)})
    rows.sort(key=lambda row: -row["own_s"])
    return {"path": str(path), "total_s": round(stats.total_tt, 2), "top_by_own_time": rows[:limit]}


def _short(filename: str) -> str:
    for marker in ("site-packages/", "lib/python3.11/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    at = filename.find("/svyaz/")
    return filename[at + 1:] if at >= 0 else filename
