"""The regions Svyaz knows, the loopback ports their services use on a development machine, and
where that machine keeps their files.

Shared by the stack (which starts Kafka and FerretDB on these ports) and the node (whose
configuration defaults to them), so neither imports the other.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

KNOWN_REGIONS = ("ru", "by", "kz")


@dataclass(frozen=True)
class RegionPorts:
    kafka: int
    kafka_controller: int
    ferretdb: int
    gateway: int
    http: int


# One block per region: Kafka ru 19092, by 29092, kz 30092; FerretDB 27117/27217/27317. Every port
# stays below Linux's ephemeral range (32768-60999): a port inside it can be handed to an outgoing
# connection while its service is down (a client retrying it connects to itself), and the restarted
# service then cannot bind it. CI lost a run to that when kz's Kafka was on 39092.
PORTS: dict[str, RegionPorts] = {
    "ru": RegionPorts(kafka=19092, kafka_controller=19093, ferretdb=27117, gateway=8101, http=9101),
    "by": RegionPorts(kafka=29092, kafka_controller=29093, ferretdb=27217, gateway=8102, http=9102),
    "kz": RegionPorts(kafka=30092, kafka_controller=30093, ferretdb=27317, gateway=8103, http=9103),
}


def default_state_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Where a development machine keeps stack data and node keys: `$SVYAZ_STATE_DIR`, else `.svyaz/`
    in the current directory (git-ignored). One region's files live in `<state dir>/<region>/`."""
    return Path(environ.get("SVYAZ_STATE_DIR") or ".svyaz").resolve()
