"""The regions Svyaz knows and the loopback ports their services use on a development machine.

Shared by the stack (which starts Kafka and FerretDB on these ports) and the node (whose
configuration defaults to them), so neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass

KNOWN_REGIONS = ("ru", "by", "kz")


@dataclass(frozen=True)
class RegionPorts:
    kafka: int
    kafka_controller: int
    ferretdb: int
    gateway: int
    http: int


# One block per region: Kafka ru 19092, by 29092, kz 39092; FerretDB 27117/27217/27317.
PORTS: dict[str, RegionPorts] = {
    "ru": RegionPorts(kafka=19092, kafka_controller=19093, ferretdb=27117, gateway=8101, http=9101),
    "by": RegionPorts(kafka=29092, kafka_controller=29093, ferretdb=27217, gateway=8102, http=9102),
    "kz": RegionPorts(kafka=39092, kafka_controller=39093, ferretdb=27317, gateway=8103, http=9103),
}
