"""`svyaz node serve`: load the configuration, set up logging, run the node until a signal.
`svyaz node bootstrap-admin`; `svyaz node content-key list | rotate | rewrap | retire` (the key
ring that seals message content at rest, svyaz/node/content_keys.py; docs/node.md)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
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
    _register_content_key(node_commands)


def _register_content_key(node_commands: argparse._SubParsersAction) -> None:
    content_key = node_commands.add_parser(
        "content-key",
        help="list, rotate, rewrap and retire the keys that seal message content at rest",
        description="The node's content key ring is <data dir>/content-keys/: every process of the node "
                    "seals new message text, links, chat-list previews and report copies with its current "
                    "key, and opens older content with any key still in it (docs/node.md).",
    )
    commands = content_key.add_subparsers(dest="content_key_command", required=True, metavar="COMMAND")

    listing = commands.add_parser("list", help="the keys in the ring; which one is current")
    _data_dir_argument(listing)
    _json_flag(listing)
    listing.set_defaults(handler=content_key_list_command)

    rotate = commands.add_parser(
        "rotate", help="add a new current key (running processes seal with it from their next write)",
        description="Create a new content key and make it current. Older keys stay, so what they sealed "
                    "still opens; `rewrap` then re-seals it under the new key and `retire` removes an old key.",
    )
    _data_dir_argument(rotate)
    _json_flag(rotate)
    rotate.set_defaults(handler=content_key_rotate_command)

    rewrap = commands.add_parser(
        "rewrap", help="re-seal every document under the current key (and seal plaintext ones)",
        description="Walk the node's message, chat-list and report collections in _id order and re-seal "
                    "every document sealed with an older key or still in clear. Safe while the node runs; "
                    "resumable (an interrupted run continues where it stopped). Exit 1 if a document "
                    "does not open (they are named; nothing is changed in them).",
    )
    _data_dir_argument(rewrap)
    _store_arguments(rewrap)
    rewrap.add_argument("--batch", type=_positive, default=500, help="documents per batch (default: 500)")
    _json_flag(rewrap)
    rewrap.set_defaults(handler=content_key_rewrap_command)

    retire = commands.add_parser(
        "retire", help="delete an old key, once no document is sealed with it",
        description="Refuse while any stored document is still sealed with KEY (run `rewrap` first) or "
                    "KEY is current; then delete its file. Content sealed with a deleted key is lost for "
                    "good unless a backup of the key ring holds it.",
    )
    retire.add_argument("key_id", metavar="KEY", help="the key id (16 hex digits, from `list`)")
    _data_dir_argument(retire)
    _store_arguments(retire)
    _json_flag(retire)
    retire.set_defaults(handler=content_key_retire_command)


def _data_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, required=True, metavar="DIR",
                        help="the node's node.data_dir (the ring is DIR/content-keys/)")


def _store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store-url", required=True, metavar="URL",
                        help="the node's store.url, e.g. mongodb://127.0.0.1:27117/")
    parser.add_argument("--prefix", required=True, metavar="PREFIX",
                        help="the node's store.database_prefix, e.g. svyaz_ru")


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


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


def content_key_list_command(args: argparse.Namespace) -> int:
    from svyaz.node.content_keys import ContentKeyRing, key_dir

    ring = ContentKeyRing.existing(key_dir(args.data_dir))
    keys = ring.list()
    if args.json:
        print(json.dumps({"directory": str(ring.directory), "current": ring.current_key_id(),
                          "keys": [{"key_id": key.key_id, "current": key.current, "created_at": key.created_at}
                                   for key in keys]}))
        return 0
    for key in keys:
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(key.created_at))
        print(f"{key.key_id}  {created}{'  current' if key.current else ''}")
    return 0


def content_key_rotate_command(args: argparse.Namespace) -> int:
    from svyaz.node.content_keys import ContentKeyRing, key_dir

    directory = key_dir(args.data_dir)
    ring = ContentKeyRing(directory)
    old = ring.current_key_id() if (directory / "current").exists() else None
    new = ring.rotate()
    if args.json:
        print(json.dumps({"rotated": True, "key_id": new, "old_key_id": old, "directory": str(directory)}))
        return 0
    print(f"content key {old or '(none)'} -> {new} in {directory}")
    print("  running node processes seal with the new key from their next write; older keys stay for reading")
    print("  next: `svyaz node content-key rewrap`, then `retire` the old key; back up the ring first")
    return 0


def content_key_rewrap_command(args: argparse.Namespace) -> int:
    from pymongo import MongoClient

    from svyaz.node.content_keys import ContentKeyRing, key_dir, rewrap_store

    ring = ContentKeyRing.existing(key_dir(args.data_dir))

    def progress(where: str, done) -> None:
        if not args.json and done.counts:
            counts = ", ".join(f"{name} {count}" for name, count in sorted(done.counts.items()))
            print(f"  {where}: {counts} (up to {done.last_id})", file=sys.stderr)

    with MongoClient(args.store_url, serverSelectionTimeoutMS=5000) as client:
        report = rewrap_store(client, args.prefix, ring, batch=args.batch, on_batch=progress)
    totals = report.totals()
    if args.json:
        print(json.dumps({"key_id": report.key_id, "resumed": report.resumed, "totals": totals,
                          "collections": report.collections, "unreadable": report.unreadable}))
    else:
        shown = ", ".join(f"{name} {count}" for name, count in sorted(totals.items())) or "no documents"
        print(f"rewrapped under content key {report.key_id}{' (resumed)' if report.resumed else ''}: {shown}")
        for where in report.unreadable:
            print(f"  does not open: {where}")
    return 1 if report.unreadable else 0


def content_key_retire_command(args: argparse.Namespace) -> int:
    from pymongo import MongoClient

    from svyaz.node.content_keys import ContentKeyError, ContentKeyRing, documents_sealed_with, is_key_id, key_dir

    ring = ContentKeyRing.existing(key_dir(args.data_dir))
    if not is_key_id(args.key_id):
        raise ContentKeyError(f"{args.key_id!r} is not a content key id (16 hex digits)",
                              hint="`svyaz node content-key list` shows the ids")
    if args.key_id == ring.current_key_id():
        raise ContentKeyError(f"{args.key_id} is the current content key and cannot be retired",
                              hint="rotate first, then rewrap, then retire the old key")
    with MongoClient(args.store_url, serverSelectionTimeoutMS=5000) as client:
        still = documents_sealed_with(client, args.prefix, args.key_id)
    if still:
        raise ContentKeyError(
            f"content key {args.key_id} still seals stored documents, e.g. " + "; ".join(still),
            hint=f"run `svyaz node content-key rewrap --data-dir {args.data_dir} --store-url ... "
                 f"--prefix {args.prefix}` first",
        )
    ring.retire(args.key_id)
    if args.json:
        print(json.dumps({"retired": args.key_id, "directory": str(ring.directory)}))
    else:
        print(f"retired content key {args.key_id}: no stored document uses it; its file is deleted")
    return 0
