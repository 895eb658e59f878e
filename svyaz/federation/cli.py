"""`svyaz federation mm2-config`: the MirrorMaker 2 properties for a set of regions (docs/federation.md)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from svyaz.federation import mm2
from svyaz.federation.errors import FederationConfigError


def register(commands: argparse._SubParsersAction) -> None:
    federation = commands.add_parser("federation", help="federation between regional nodes")
    actions = federation.add_subparsers(dest="federation_command", required=True, metavar="ACTION")
    config = actions.add_parser(
        "mm2-config",
        help="print the MirrorMaker 2 (dedicated mode) properties that carry only outbox.<peer> topics",
        description=(
            "Write mm2.properties for the given regions: each flow a->b replicates exactly outbox.b "
            "(arriving as a.outbox.b) and nothing else; no heartbeats, checkpoints, group-offset or ACL "
            "sync; low-latency consumer and producer settings. Kafka addresses default to the development "
            "stack's ports; name each production cluster with --cluster."
        ),
    )
    config.add_argument("--regions", default="ru,by,kz", help="comma-separated regions (default: ru,by,kz)")
    config.add_argument("--cluster", action="append", default=[], metavar="REGION=HOST:PORT[,HOST:PORT]",
                        help="a region's Kafka bootstrap servers (repeat per region)")
    config.add_argument("--replication-factor", type=int, default=1,
                        help="of MirrorMaker 2's own topics and the mirrored ones (default 1; 3 in production)")
    config.add_argument("--out", type=Path, help="write to FILE instead of standard output")
    config.set_defaults(handler=_mm2_config)


def _mm2_config(args: argparse.Namespace) -> int:
    regions = mm2.parse_regions(args.regions)
    text = mm2.properties(mm2.clusters(regions, args.cluster), replication_factor=args.replication_factor)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    _write_atomically(args.out, text)
    print(f"wrote {args.out} ({len(mm2.flows(regions))} flows: "
          f"{', '.join(f'{a}->{b}' for a, b in mm2.flows(regions))})", file=sys.stderr)
    return 0


def _write_atomically(path: Path, text: str) -> None:
    # A running MirrorMaker 2 restart must never read half a file.
    try:
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except OSError as err:
        raise FederationConfigError(f"--out: cannot write {path} ({err.strerror or err})") from err
