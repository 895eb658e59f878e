"""`svyaz federation mm2-config | keygen | status`: the MirrorMaker 2 properties for a set of regions,
the node's federation signing key, and how the nodes' links are doing (docs/federation.md)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from svyaz.federation import keyfile, mm2, status
from svyaz.federation.errors import FederationConfigError


def register(commands: argparse._SubParsersAction) -> None:
    federation = commands.add_parser("federation", help="federation between regional nodes")
    actions = federation.add_subparsers(dest="federation_command", required=True, metavar="ACTION")
    config = actions.add_parser(
        "mm2-config",
        help="print the MirrorMaker 2 (dedicated mode) properties that carry only <prefix>outbox.<peer> topics",
        description=(
            "Write mm2.properties for the given regions: each flow a->b replicates exactly <prefix>outbox.b "
            "(arriving as a.<prefix>outbox.b) and nothing else; no heartbeats, checkpoints, group-offset, "
            "ACL or topic-config sync; low-latency consumer and producer settings. Kafka addresses default "
            "to the development stack's ports; name each production cluster with --cluster."
        ),
    )
    config.add_argument("--regions", default="ru,by,kz", help="comma-separated regions (default: ru,by,kz)")
    config.add_argument("--cluster", action="append", default=[], metavar="REGION=HOST:PORT[,HOST:PORT]",
                        help="a region's Kafka bootstrap servers (repeat per region)")
    config.add_argument("--replication-factor", type=int, default=1,
                        help="of MirrorMaker 2's own topics and the mirrored ones (default 1; 3 in production)")
    config.add_argument("--topic-prefix", default="", metavar="PREFIX",
                        help="the nodes' kafka.topic_prefix, e.g. 'svyaz.' (default: none); "
                             "letters, digits, '_', '-' and '.', ending with '.'")
    config.add_argument("--out", type=Path, help="write to FILE instead of standard output")
    config.set_defaults(handler=_mm2_config)
    keygen = actions.add_parser(
        "keygen",
        help="create the node's federation signing key if it has none; print its key id and public key path",
        description=(
            "Create DIR/node.key (GOST R 34.10-2012 256-bit on TC26-256-A, PKCS#8 PEM, mode 0600) and "
            "DIR/node.pub.pem, unless a key is there already, which is kept. Every peer pins node.pub.pem "
            "in its [federation.peers]. The node uses [federation] key_dir (default "
            "<node.data_dir>/federation) and makes the key on first start by itself."
        ),
    )
    keygen.add_argument("--dir", dest="key_dir", type=Path, required=True, metavar="DIR",
                        help="the federation key directory (the node's federation.key_dir)")
    keygen.add_argument("--json", action="store_true", help="print the result as one JSON object")
    keygen.set_defaults(handler=_keygen)
    report = actions.add_parser(
        "status",
        help="per region pair: sent, applied, refused, backlog and lag, from the nodes' side ports",
        description=(
            "Read GET /federation from each node's side port and print the nodes (region, key id, whether "
            "they answered) and one row per region pair origin -> destination: events sent (from the "
            "origin's node), applied, refused by code, backlog and lag p50/p99 (from the destination's). "
            "Exit code 0 if every node answered with its federation status, 1 otherwise."
        ),
    )
    report.add_argument("--node", dest="nodes", action="append", default=[], metavar="URL",
                        help="a node's side port, http://HOST:PORT (repeat per node; default: the development "
                             "ports of ru, by and kz)")
    report.add_argument("--timeout", type=float, default=3.0, metavar="SECONDS",
                        help="how long to wait for each node (default 3)")
    report.add_argument("--json", action="store_true", help="print one JSON object")
    report.set_defaults(handler=_status)


def _mm2_config(args: argparse.Namespace) -> int:
    regions = mm2.parse_regions(args.regions)
    problem = mm2.topic_prefix_error(args.topic_prefix)
    if problem:
        raise FederationConfigError(f"--topic-prefix: {problem}")
    text = mm2.properties(mm2.clusters(regions, args.cluster), replication_factor=args.replication_factor,
                          topic_prefix=args.topic_prefix)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    _write_atomically(args.out, text)
    print(f"wrote {args.out} ({len(mm2.flows(regions))} flows: "
          f"{', '.join(f'{a}->{b}' for a, b in mm2.flows(regions))})", file=sys.stderr)
    return 0


def _keygen(args: argparse.Namespace) -> int:
    directory: Path = args.key_dir
    existed = (directory / keyfile.PRIVATE_KEY_FILE).exists()
    key = keyfile.load_or_generate_federation_key(directory)
    key_id = key.public_key().fingerprint()
    private, public = directory / keyfile.PRIVATE_KEY_FILE, directory / keyfile.PUBLIC_KEY_FILE
    if args.json:
        print(json.dumps({"key_id": key_id, "created": not existed,
                          "private_key": str(private), "public_key": str(public)}))
        return 0
    print(f"{'existing' if existed else 'new'} federation key {key_id}")
    print(f"  private: {private} (keep it 0600; never copy it off the node)")
    print(f"  public:  {public} (pin it on every peer, in [federation.peers])")
    return 0


def _status(args: argparse.Namespace) -> int:
    if not 0 < args.timeout <= 300:
        raise FederationConfigError(f"--timeout {args.timeout:g}: expected more than 0 and at most 300 seconds")
    urls = [status.node_url(node) for node in args.nodes] or status.default_nodes()
    reports = status.fetch_all(list(dict.fromkeys(urls)), timeout_s=args.timeout)
    if args.json:
        print(json.dumps(status.as_json(reports), ensure_ascii=False))
    else:
        sys.stdout.write(status.render_text(reports))
    return 0 if all(report.answered for report in reports) else 1


def _write_atomically(path: Path, text: str) -> None:
    # A running MirrorMaker 2 restart must never read half a file.
    try:
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except OSError as err:
        raise FederationConfigError(f"--out: cannot write {path} ({err.strerror or err})") from err
