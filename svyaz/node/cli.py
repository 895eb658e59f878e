"""`svyaz node serve`: load the configuration, set up logging, run the node until a signal."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import trio

from svyaz.node import service
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


def serve_node(args: argparse.Namespace) -> int:
    overrides = [
        Override(key, getattr(args, attribute), flag)
        for attribute, (key, flag) in _FLAG_KEYS.items()
        if getattr(args, attribute) is not None
    ]
    config = load_config(args.region, path=args.config, environ=os.environ, overrides=overrides)
    configure_logging(config.log, region=config.region)
    trio.run(service.run, config)
    return 0
