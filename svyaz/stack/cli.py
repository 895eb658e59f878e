"""`svyaz stack up|down|status|logs`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from svyaz.errors import SvyazError
from svyaz.regions import default_state_dir
from svyaz.stack.manager import Stack
from svyaz.stack.topology import parse_regions


def register(commands: argparse._SubParsersAction) -> None:
    stack = commands.add_parser("stack", help="run the local Kafka / FerretDB / MirrorMaker 2 stack")
    stack.add_argument("--state-dir", type=Path, default=None,
                       help="where the stack keeps data, configs and logs (default: $SVYAZ_STATE_DIR or .svyaz/)")
    actions = stack.add_subparsers(dest="action", required=True, metavar="ACTION")

    up = actions.add_parser("up", help="start the stack (idempotent), downloading and building on first use")
    up.add_argument("--regions", default="ru,by,kz", help="comma-separated regions (default: ru,by,kz)")
    up.set_defaults(handler=_up)

    down = actions.add_parser("down", help="stop exactly what `up` started")
    down.set_defaults(handler=_down)

    status = actions.add_parser("status", help="each service: pid, port, health, memory")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=_status)

    logs = actions.add_parser("logs", help="show a service's log: `logs ru kafka` or `logs mirrormaker`")
    logs.add_argument("target", nargs="+", metavar="REGION SERVICE")
    logs.add_argument("-n", "--lines", type=int, default=100, help="how many trailing lines (default 100)")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.set_defaults(handler=_logs)


def _stack(args: argparse.Namespace, *, quiet: bool = False) -> Stack:
    state_dir = (args.state_dir or default_state_dir()).resolve()
    return Stack(state_dir, progress=(lambda _: None) if quiet else _progress)


def _progress(line: str) -> None:
    print(f"[stack] {line}", flush=True)


def _up(args: argparse.Namespace) -> int:
    _stack(args).up(parse_regions(args.regions))
    return 0


def _down(args: argparse.Namespace) -> int:
    stopped = _stack(args).down()
    print(f"[stack] stopped {len(stopped)} service(s)" if stopped else "[stack] nothing was running")
    return 0


def _status(args: argparse.Namespace) -> int:
    stack = _stack(args, quiet=True)
    statuses = stack.status()
    healthy = bool(statuses) and all(s.healthy for s in statuses)
    if args.json:
        print(json.dumps({"state_dir": str(stack.state_dir), "healthy": healthy,
                          "services": [s.as_json() for s in statuses]}, indent=2))
    elif not statuses:
        print("no stack services recorded; start them with `svyaz stack up`")
    else:
        print(f"{'SERVICE':<14} {'PID':>7} {'PORT':>6} {'HEALTH':<9} {'RSS MiB':>8}  DETAIL")
        for s in statuses:
            health = "healthy" if s.healthy else ("running" if s.running else "stopped")
            rss = f"{s.rss_kib / 1024:.0f}" if s.rss_kib else "-"
            print(f"{s.service:<14} {s.pid or '-':>7} {s.port or '-':>6} {health:<9} {rss:>8}  {s.detail}")
    return 0 if healthy else 1


def _logs(args: argparse.Namespace) -> int:
    name = "/".join(args.target)
    if name == "mm2":
        name = "mirrormaker"
    state_dir = (args.state_dir or default_state_dir()).resolve()
    path = state_dir / "mirrormaker.log" if name == "mirrormaker" else state_dir / f"{name}.log"
    if len(args.target) > 2 or not path.exists():
        raise SvyazError(
            f"no log for {' '.join(args.target)!r} under {state_dir}",
            hint="name a region and a service (`svyaz stack logs ru kafka`, `... ru ferretdb`) or `mirrormaker`",
        )
    with open(path, errors="replace") as log:
        for line in log.readlines()[-args.lines:]:
            sys.stdout.write(line)
        while args.follow:
            line = log.readline()
            if line:
                sys.stdout.write(line)
                sys.stdout.flush()
            else:
                time.sleep(0.3)
    return 0
