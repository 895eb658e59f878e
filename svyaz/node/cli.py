"""`svyaz node serve`: load the configuration, set up logging, run the node until a signal."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import trio

from svyaz.node.config import Override, load_config
from svyaz.node.logs import configure_logging

# Flag → configuration key. Values stay strings here so the configuration checks them like any
# other layer and its errors name the flag.
_FLAG_KEYS = {
    "gateway_port": ("gateway.port", "--gateway-port"),
    "http_port": ("http.port", "--http-port"),
    "store_url": ("store.url", "--store-url"),
    "kafka": ("kafka.bootstrap_servers", "--kafka"),
}


def register(commands: argparse._SubParsersAction) -> None:
    node = commands.add_parser("node", help="run a regional node")
    node_commands = node.add_subparsers(dest="node_command", required=True, metavar="COMMAND")
    serve = node_commands.add_parser(
        "serve",
        help="run the node until SIGINT or SIGTERM",
        description=(
            "Run the regional node: WebSocket gateway, /healthz /readyz /metrics side port, health "
            "probes. Settings: defaults for the region, then --config, then SVYAZ_<SECTION>__<KEY> "
            "variables, then flags."
        ),
    )
    serve.add_argument("--region", required=True, help="the node's region: ru, by or kz")
    serve.add_argument(
        "--config", type=Path, help="TOML file with [node] [gateway] [http] [store] [kafka] [health] [log]"
    )
    serve.add_argument("--gateway-port", metavar="PORT", help="WebSocket port (0: any free port)")
    serve.add_argument(
        "--http-port", metavar="PORT", help="side port for /healthz /readyz /metrics (0: any free port)"
    )
    serve.add_argument("--store-url", metavar="URL", help="Mongo-wire store, e.g. mongodb://127.0.0.1:27117/")
    serve.add_argument("--kafka", metavar="HOST:PORT[,...]", help="Kafka bootstrap servers of the region")
    serve.set_defaults(handler=serve_node)

    bootstrap = node_commands.add_parser(
        "bootstrap-admin",
        help="grant the region's first admin (operator only, on the node's machine)",
        description="Grant `admin` to an account that has confirmed 2FA, while the region has no admin. "
                    "Uses the node's configuration to reach its store; audited as the operator's act.",
    )
    bootstrap.add_argument("--region", required=True)
    bootstrap.add_argument("--account", required=True, help="e.g. @root:ru (registered, with 2FA confirmed)")
    bootstrap.add_argument("--config", type=Path)
    bootstrap.add_argument("--store-url", metavar="URL")
    bootstrap.add_argument("--kafka", metavar="HOST:PORT[,...]")
    bootstrap.add_argument("--json", action="store_true")
    bootstrap.set_defaults(handler=bootstrap_admin_command)


def _load(args: argparse.Namespace):
    overrides = [
        Override(key, getattr(args, attribute), flag)
        for attribute, (key, flag) in _FLAG_KEYS.items()
        if getattr(args, attribute, None) is not None
    ]
    return load_config(args.region, path=args.config, environ=os.environ, overrides=overrides)


def serve_node(args: argparse.Namespace) -> int:
    config = _load(args)
    configure_logging(config.log, region=config.region)
    from svyaz.node import service  # the whole node: imported only to serve, so other commands start fast

    trio.run(service.run, config)
    return 0


def bootstrap_admin_command(args: argparse.Namespace) -> int:
    config = _load(args)
    from svyaz.node.bootstrap import bootstrap_admin

    assignment = trio.run(bootstrap_admin, config, args.account)
    if args.json:
        print(json.dumps({"account": assignment.account, "role": assignment.role, "region": assignment.region}))
    else:
        print(f"granted admin to {assignment.account} in {assignment.region} (audited)")
    return 0
