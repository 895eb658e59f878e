"""`svyaz lawful purge` and `svyaz lawful report`: operator commands, run on the node's machine with
the node's configuration (`--region`, `--config`, the `SVYAZ_<SECTION>__<KEY>` variables, like
`svyaz node bootstrap-admin`), reaching its store directly (docs/compliance.md).

- `purge --region R [--dry-run] [--json]`: one retention purge now (what the node also runs on
  schedule), legal holds honoured, audited as the operator's act. Prints counts only.
- `report --region R [--since WHEN] [--until WHEN] [--json]`: the transparency report of the
  region's lawful-access requests: counts by state and category, time to decision. Counts only.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import trio


def register(commands: argparse._SubParsersAction) -> None:
    """Add this module's commands to `svyaz lawful`."""
    purge = commands.add_parser(
        "purge", help="run the retention purge of the region now (operators, on the node's machine)",
        description="Blank the content of messages past content retention and delete messages past metadata "
                    "retention (policies/retention.toml), skipping every chat of a subject under legal hold. "
                    "Uses the node's configuration to reach its store; audited. Prints counts only.")
    _node_arguments(purge)
    purge.add_argument("--dry-run", action="store_true", help="count what would be purged; change nothing")
    purge.set_defaults(handler=purge_command)

    report = commands.add_parser(
        "report", help="the transparency report: requests by state, category and time to decision",
        description="Counts of the region's lawful-access requests by state and by data category, and the "
                    "time from submission to decision (p50, p95, max). Counts only: no subject, authority "
                    "or officer. Uses the node's configuration to reach its store.")
    _node_arguments(report)
    report.add_argument("--since", metavar="WHEN", help="only requests submitted from then (ISO date or time)")
    report.add_argument("--until", metavar="WHEN", help="only requests submitted before then (a date: its end)")
    report.set_defaults(handler=report_command)


def _node_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--region", required=True, help="the node's region: ru, by or kz")
    parser.add_argument("--config", type=Path, help="the node's TOML configuration file")
    parser.add_argument("--store-url", metavar="URL", help="the node's store.url, if not from --config")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")


def _config(args: argparse.Namespace):
    from svyaz.node.config import Override, load_config

    overrides = [Override("store.url", args.store_url, "--store-url")] if args.store_url else []
    return load_config(args.region, path=args.config, environ=os.environ, overrides=overrides)


def purge_command(args: argparse.Namespace) -> int:
    from svyaz.node.retention import purge_once

    report = trio.run(lambda: purge_once(_config(args), dry_run=args.dry_run))
    if args.json:
        print(json.dumps(report.as_dict()))
        return 0
    print(format_purge(report.as_dict()))
    return 0


def format_purge(report: dict[str, Any]) -> str:
    verb = "would be" if report["dry_run"] else "were"
    lines = [f"retention purge of {report['region']}{' (dry run)' if report['dry_run'] else ''}: content kept "
             f"{report['content_days']} days, metadata {report['metadata_days']} days; "
             f"{report['subjects_held']} account(s) under legal hold"]
    for name, counts in report["bulkheads"].items():
        lines.append(f"  {name:<9} {counts['content_purged']} message(s) {verb} blanked, "
                     f"{counts['messages_deleted']} deleted; {counts['chats_held']} of {counts['chats']} chat(s) "
                     "held")
    lines.append(f"  chat list {report['chat_list']['previews_purged']} preview(s) {verb} blanked, "
                 f"{report['chat_list']['previews_held']} held")
    return "\n".join(lines)


def report_command(args: argparse.Namespace) -> int:
    from svyaz.compliance.lawful.workflow_cli import parse_when

    since = parse_when(args.since) if args.since else None
    until = parse_when(args.until, end_of_day=True) if args.until else None
    report = trio.run(lambda: transparency_of(_config(args), since=since, until=until))
    if args.json:
        print(json.dumps(report))
        return 0
    print(format_report(report))
    return 0


async def transparency_of(config, *, since: float | None, until: float | None) -> dict[str, Any]:
    """The transparency report of the node's region, read from its lawful-access store."""
    from pymongo import MongoClient

    from svyaz.compliance.lawful.store import MongoLawfulStore
    from svyaz.compliance.lawful.transparency import transparency_report

    limiter = trio.CapacityLimiter(1)
    # A thread: a mongodb+srv:// URL makes the client constructor resolve DNS.
    client = await trio.to_thread.run_sync(
        lambda: MongoClient(config.store.url, serverSelectionTimeoutMS=int(config.store.timeout_s * 1000)))
    try:
        requests = await MongoLawfulStore(client[f"{config.store.database_prefix}_compliance"], limiter).all(
            config.region)
    finally:
        await trio.to_thread.run_sync(client.close)
    return transparency_report(requests, config.region, since=since, until=until, now=time.time()).as_dict()


def format_report(report: dict[str, Any]) -> str:
    lines = [f"lawful-access requests of {report['region']}: {report['total']}"]
    states = ", ".join(f"{state} {count}" for state, count in report["by_state"].items() if count) or "none"
    categories = ", ".join(f"{name} {count}" for name, count in report["by_category"].items() if count) or "none"
    lines += [f"  by state:    {states}", f"  by category: {categories}"]
    for name, times in report["time_to_decision"].items():
        if times["count"]:
            lines.append(f"  time to decision ({name}, {times['count']}): p50 {_duration(times['p50_s'])}, "
                         f"p95 {_duration(times['p95_s'])}, max {_duration(times['max_s'])}")
    lines.append(f"  undecided:   {report['undecided']}")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} d"
