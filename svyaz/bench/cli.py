"""`svyaz bench ...`: benchmarks against a real node on the running stack (docs/benchmarks.md)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from svyaz.bench.crossings import all_pairs, parse_pairs
from svyaz.bench.schedule import KINDS
from svyaz.errors import SvyazError
from svyaz.regions import KNOWN_REGIONS


def register(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser("bench", help="benchmarks against a real node (needs `svyaz stack up`)")
    kinds = bench.add_subparsers(dest="bench_command", required=True, metavar="BENCHMARK")
    latency = kinds.add_parser(
        "latency",
        help="send→receive latency of 1:1 text with N connected clients at an aggregate rate",
        description=(
            "Start a node of its own (isolated databases and topics, free ports), register and connect "
            "--clients accounts in pairs, send 1:1 text at --rate messages/s in all (open loop) for "
            "--seconds after --warmup, and report delivery and ack latency p50/p95/p99/max, the rate "
            "achieved, errors by code, CPU of the node, of the bench and of the stack, and the node's "
            "memory per idle connection. --sweep R1,R2,... runs several rates and names the highest "
            "one with p95 <= 100 ms and p99 <= 200 ms."
        ),
    )
    latency.add_argument("--clients", type=_even_count, default=1000, help="connected clients, an even number "
                         "(default 1000)")
    load = latency.add_mutually_exclusive_group()
    load.add_argument("--rate", type=_positive, help="messages per second in all (default 100)")
    load.add_argument("--sweep", type=_rates, metavar="R1,R2,...", help="several rates, one after another")
    latency.add_argument("--seconds", type=_positive, default=60.0, help="measured seconds per rate (default 60)")
    latency.add_argument("--warmup", type=_non_negative, default=10.0,
                         help="seconds of load before measuring, per rate (default 10)")
    latency.add_argument("--grace", type=_non_negative, default=5.0,
                         help="seconds to wait for late deliveries before counting them missing (default 5)")
    latency.add_argument("--pause", type=_non_negative, default=3.0, help="idle seconds between rates (default 3)")
    latency.add_argument("--arrivals", choices=KINDS, default="poisson",
                         help="poisson (random gaps, random sender) or even spacing (default poisson)")
    latency.add_argument("--max-in-flight", type=int, default=4,
                         help="unanswered sends per connection; more are dropped_by_client (default 4)")
    latency.add_argument("--ack-timeout", type=_positive, default=10.0, help="seconds to wait for a send's result")
    latency.add_argument("--text-chars", type=int, default=64, help="length of each message's text (default 64)")
    latency.add_argument("--seed", type=int, help="seed of the arrival schedule")
    latency.add_argument("--node-url", help="use a running node (ws://...) instead of starting one")
    latency.add_argument("--node-pid", type=int, help="with --node-url: the node's pid, for its CPU and RSS")
    latency.add_argument("--store-url", default="mongodb://127.0.0.1:27117/", help="the bench node's store")
    latency.add_argument("--kafka", default="127.0.0.1:19092", help="the bench node's Kafka")
    latency.add_argument("--profile-node", type=Path, metavar="FILE",
                         help="run the node under cProfile (slower!) and write its stats to FILE")
    latency.add_argument("--trace-node", type=Path, metavar="FILE",
                         help="time every store command and the steps of a send inside the node "
                              "(svyaz.bench.nodetrace), write the timers to FILE and report them per message")
    latency.add_argument("--json", action="store_true", help="print the report as JSON")
    latency.set_defaults(handler=_latency)

    channel = kinds.add_parser(
        "channel",
        help="a post to a channel with 1,000,000 stored subscribers, 10,000 of them online",
        description=(
            "Start a node of its own, an owner and its channel, --online subscribers registered, connected and "
            "subscribed through the gateway, then --posts posts; then store subscribers in bulk up to "
            "--subscribers and post again. Reports, per post, the time until each online subscriber's "
            "connection had it (p50/p99/max), and what one post wrote: documents added to the store, store "
            "write commands, Kafka records, at both subscriber counts."
        ),
    )
    channel.add_argument("--subscribers", type=_count, default=1_000_000, help="stored subscribers (default 1000000)")
    channel.add_argument("--online", type=_even_count, default=10_000,
                         help="subscribers connected while posting, an even number (default 10000)")
    channel.add_argument("--posts", type=_count, default=5, help="posts per subscriber count (default 5)")
    channel.add_argument("--listener-processes", type=_count, default=2,
                         help="processes holding the online subscribers' connections (default 2)")
    channel.add_argument("--delivery-timeout", type=_positive, default=60.0,
                         help="seconds to wait for every online subscriber to have a post (default 60)")
    channel.add_argument("--store-url", default="mongodb://127.0.0.1:27117/", help="the bench node's store")
    channel.add_argument("--kafka", default="127.0.0.1:19092", help="the bench node's Kafka")
    channel.add_argument("--json", action="store_true", help="print the report as JSON")
    channel.set_defaults(handler=_channel)

    federation = kinds.add_parser(
        "federation",
        help="cross-border lag of 1:1 text between federated nodes through MirrorMaker 2, per region pair",
        description=(
            "Start a federated node of its own per region of --pairs (keys made and pinned both ways, a fresh "
            "topic prefix the stack's MirrorMaker 2 carries), or use running ones (--ru-url ...), register "
            "senders in each pair's first region and receivers in its second, wait until a first message per "
            "chat has crossed (reported as the first crossing), then send 1:1 text at --rate messages/s in all "
            "(open loop) for --seconds after --warmup, and report per pair and overall the lag from the "
            "send call to the receiver's push (p50/p95/p99/max), lost, duplicated and out-of-order messages, "
            "where on the way the time goes (Kafka topics watched), and a verdict against the seed's 2 s and "
            "the 1 s aim."
        ),
    )
    federation.add_argument("--pairs", type=_pairs, default=all_pairs(KNOWN_REGIONS), metavar="A-B,...",
                            help="region pairs, sender's region first (default all six: "
                                 f"{','.join(all_pairs(KNOWN_REGIONS))})")
    fed_load = federation.add_mutually_exclusive_group()
    fed_load.add_argument("--rate", type=_positive, help="messages per second over all pairs (default 20)")
    fed_load.add_argument("--sweep", type=_rates, metavar="R1,R2,...", help="several rates, one after another")
    federation.add_argument("--seconds", type=_positive, default=60.0, help="measured seconds per rate (default 60)")
    federation.add_argument("--warmup", type=_non_negative, default=10.0,
                            help="seconds of load before measuring, per rate (default 10)")
    federation.add_argument("--grace", type=_non_negative, default=10.0,
                            help="seconds to wait for late arrivals before counting them lost (default 10)")
    federation.add_argument("--pause", type=_non_negative, default=3.0, help="idle seconds before each rate")
    federation.add_argument("--chats-per-pair", type=_count,
                            help="sender->receiver chats per pair (default: enough that no sender sends more "
                                 "than 2.5/s, at least 4)")
    federation.add_argument("--arrivals", choices=KINDS, default="poisson",
                            help="poisson (random gaps, random chat) or even spacing (default poisson)")
    federation.add_argument("--max-in-flight", type=int, default=4,
                            help="unanswered sends per sender; more are dropped_by_client (default 4)")
    federation.add_argument("--ack-timeout", type=_positive, default=10.0, help="seconds to wait for a send's result")
    federation.add_argument("--first-crossing-timeout", type=_positive, default=120.0,
                            help="seconds to wait for the first message of every chat to cross (default 120)")
    federation.add_argument("--text-chars", type=int, default=64, help="length of each message's text (default 64)")
    federation.add_argument("--seed", type=int, help="seed of the arrival schedule")
    federation.add_argument("--no-topic-watch", action="store_true",
                            help="do not watch the Kafka topics on the way (no split of the lag by hop)")
    for region in KNOWN_REGIONS:
        federation.add_argument(f"--{region}-url", metavar="WS_URL",
                                help=f"use a running {region} node instead of starting one (all or none)")
    federation.add_argument("--topic-prefix", help="with --*-url: the nodes' kafka.topic_prefix, for the topic watch")
    federation.add_argument("--node-env", action="append", default=[], metavar="SVYAZ_SECTION__KEY=VALUE",
                            help="one more setting for the bench's own nodes (repeatable)")
    federation.add_argument("--trace-nodes", type=Path, metavar="DIR",
                            help="run the bench's nodes with svyaz.bench.nodetrace's timers (store commands, the "
                                 "send path, forwarder, outbox, inbound, ledger, applier), write them to "
                                 "DIR/<region>.json and report them per message")
    federation.add_argument("--json", action="store_true", help="print the report as JSON")
    federation.set_defaults(handler=_federation)

    crypto = kinds.add_parser(
        "crypto",
        help="GOST primitives from Python next to `openssl speed` and gostcrypto (no stack needed)",
        description=(
            "Time Streebog, Kuznyechik and Magma modes and the project's AEAD on one buffer size (MB/s by wall "
            "clock), each followed by `openssl speed -elapsed` of the same algorithm through the same GOST "
            "provider, and gostcrypto on a 4 KiB buffer; then sign, verify, VKO, key generation and a "
            "secret-chat message one call at a time (ops/s, p50/p95/p99)."
        ),
    )
    crypto.add_argument("--seconds", type=_positive, default=2.0, help="seconds per bulk primitive (default 2)")
    crypto.add_argument("--bytes", type=_count, default=16384, dest="buffer_bytes",
                        help="buffer size for bulk primitives (default 16384, as openssl speed's largest)")
    crypto.add_argument("--operations", type=_count, default=300, help="timed calls per operation (default 300)")
    crypto.add_argument("--no-reference", action="store_true", help="skip gostcrypto (it is slow)")
    crypto.add_argument("--json", action="store_true", help="print the report as JSON")
    crypto.set_defaults(handler=_crypto)


def _latency(args: argparse.Namespace) -> int:
    from svyaz.bench.latency import LatencyOptions, run_latency

    options = LatencyOptions(
        clients=args.clients, rates=tuple(args.sweep or (args.rate or 100.0,)), seconds=args.seconds,
        warmup_s=args.warmup, grace_s=args.grace, pause_s=args.pause, arrivals=args.arrivals,
        max_in_flight=args.max_in_flight, ack_timeout_s=args.ack_timeout, text_chars=args.text_chars,
        seed=args.seed, node_url=args.node_url, node_pid=args.node_pid, store_url=args.store_url,
        kafka=args.kafka, profile_node=args.profile_node.resolve() if args.profile_node else None,
        trace_node=args.trace_node.resolve() if args.trace_node else None,
    )

    report = _run_reporting_errors(run_latency, options)
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0


def _channel(args: argparse.Namespace) -> int:
    from svyaz.bench.channel import ChannelOptions, run_channel, render_channel

    options = ChannelOptions(subscribers=args.subscribers, online=args.online, posts=args.posts,
                             listener_processes=args.listener_processes, delivery_timeout_s=args.delivery_timeout,
                             store_url=args.store_url, kafka=args.kafka)
    report = _run_reporting_errors(run_channel, options)
    print(json.dumps(report, indent=2) if args.json else render_channel(report))
    return 0


def _federation(args: argparse.Namespace) -> int:
    from svyaz.bench.federation import FederationOptions, render_federation, run_federation

    node_env = {}
    for setting in args.node_env:
        name, sep, value = setting.partition("=")
        if not sep or not name.startswith("SVYAZ_") or "__" not in name:
            raise SvyazError(f"--node-env {setting!r}: expected SVYAZ_SECTION__KEY=VALUE")
        node_env[name] = value
    urls = {region: getattr(args, f"{region}_url") for region in KNOWN_REGIONS if getattr(args, f"{region}_url")}
    options = FederationOptions(
        pairs=args.pairs, rates=tuple(args.sweep or (args.rate or 20.0,)), seconds=args.seconds,
        warmup_s=args.warmup, grace_s=args.grace, pause_s=args.pause, chats_per_pair=args.chats_per_pair,
        arrivals=args.arrivals, max_in_flight=args.max_in_flight, ack_timeout_s=args.ack_timeout,
        first_crossing_timeout_s=args.first_crossing_timeout, text_chars=args.text_chars, seed=args.seed,
        watch_topics=not args.no_topic_watch, node_urls=urls, topic_prefix=args.topic_prefix, node_env=node_env,
        trace_nodes=args.trace_nodes.resolve() if args.trace_nodes else None)
    report = _run_reporting_errors(run_federation, options)
    print(json.dumps(report, indent=2) if args.json else render_federation(report))
    return 0


def _crypto(args: argparse.Namespace) -> int:
    from svyaz.bench.crypto import CryptoOptions, render_crypto, run_crypto

    options = CryptoOptions(seconds=args.seconds, buffer_bytes=args.buffer_bytes, operations=args.operations,
                            reference=not args.no_reference)
    report = run_crypto(options, lambda line: print(line, file=sys.stderr, flush=True))
    report["command"] = shlex.join(["svyaz", *sys.argv[1:]])
    print(json.dumps(report, indent=2) if args.json else render_crypto(report))
    return 0


def _run_reporting_errors(run, options) -> dict[str, Any]:
    import trio

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        report = trio.run(run, options, progress)
    except BaseExceptionGroup as group:
        sole = _sole_svyaz_error(group)
        if sole is None:
            raise
        raise sole from sole.__cause__
    report["command"] = shlex.join(["svyaz", *sys.argv[1:]])
    return report


def render(report: dict[str, Any]) -> str:
    setup, node = report["setup"], report["node"]
    lines = [
        f"node: {node['url']} ({'started by the bench' if node['own'] else 'existing'}); {node['note']}",
        f"machine: {report['machine_before']['cpus']} CPUs, load average before "
        f"{report['machine_before']['load_average']}, after {report['machine_after']['load_average']}",
        f"{setup['clients']} clients: registered and signed in in {setup['enrol_s']} s, connected in "
        f"{setup['connect_s']} s; node RSS {setup['node_rss_before_connect_mib']} MiB -> "
        f"{setup['node_rss_connected_idle_mib']} MiB idle = {setup['memory_per_idle_connection_kib']} KiB "
        "per idle connection",
        "",
        f"{'rate/s':>7} {'sent/s':>7} {'recv':>7} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>8} "
        f"{'ack p50':>8} {'ack p99':>8} {'node':>5} {'bench':>5}  errors / verdict",
    ]
    for run in report["runs"]:
        d, a = run["delivery"] or {}, run["ack"] or {}
        verdict = "PASS" if run["verdict"]["passed"] else "fail (" + "; ".join(run["verdict"]["reasons"]) + ")"
        lines.append(
            f"{run['rate']:>7g} {run['send_rate']:>7} {run['delivered']:>7} {_ms(d, 'p50'):>7} {_ms(d, 'p95'):>7} "
            f"{_ms(d, 'p99'):>7} {_ms(d, 'max'):>8} {_ms(a, 'p50'):>8} {_ms(a, 'p99'):>8} "
            f"{run['cpu']['node_cores'] if run['cpu']['node_cores'] is not None else '-':>5} "
            f"{run['cpu']['bench_cores']:>5}  {run['errors'] or 'no errors'}; {verdict}")
    lines += ["", "latency in ms; node and bench in cores used (1.0 = one core busy)"]
    for run in report["runs"]:
        lines.append(f"  at {run['rate']:g}/s: node threads {run['cpu']['node_threads_cores']}; "
                     f"machine {run['cpu']['machine_cores']}")
    highest = report["highest_passing_rate"]
    lines.append("")
    lines.append(f"highest rate with p95 <= 100 ms and p99 <= 200 ms: {highest:g}/s" if highest is not None
                 else "no rate met p95 <= 100 ms and p99 <= 200 ms")
    if report["inconsistent_sweep"]:
        lines.append("(a lower rate failed although a higher one passed: the machine was busy; rerun)")
    for run in report["runs"]:
        costs = run.get("node_costs")
        if costs and costs["timers"]:
            lines.append(f"  inside the node at {run['rate']:g}/s, per sent message: {costs['store_commands_per_message']}"
                         f" store commands, {costs['store_ms_per_message']} ms of store round trips; top timers:")
            for name, timer in list(costs["timers"].items())[:14]:
                lines.append(f"    {name:<58} {timer['per_message']:>6} calls {timer['mean_ms']:>8} ms each "
                             f"{timer['ms_per_message']:>8} ms/message")
    if "node_profile" in report:
        lines.append(f"node profile (main thread): {report['node_profile'].get('path')}")
    return "\n".join(lines)


def _sole_svyaz_error(group: BaseExceptionGroup) -> SvyazError | None:
    """The one SvyazError in `group`, so the CLI prints it as `error: ...` instead of a traceback."""
    leaves, pending = [], [group]
    while pending:
        current = pending.pop()
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        else:
            leaves.append(current)
    return leaves[0] if len(leaves) == 1 and isinstance(leaves[0], SvyazError) else None


def _ms(summary: dict[str, Any], key: str) -> str:
    value = summary.get(key)
    return "-" if value is None else f"{value:.1f}"


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a count of at least 1, got {text}")
    return value


def _even_count(text: str) -> int:
    value = int(text)
    if value < 2 or value % 2:
        raise argparse.ArgumentTypeError(f"expected an even number of clients, at least 2, got {text}")
    return value


def _pairs(text: str) -> tuple[str, ...]:
    try:
        return parse_pairs(text, KNOWN_REGIONS)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _rates(text: str) -> tuple[float, ...]:
    try:
        rates = tuple(_positive(part) for part in text.split(",") if part.strip())
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected rates like 50,100,200: {err}") from None
    if not rates:
        raise argparse.ArgumentTypeError("expected at least one rate")
    return rates
