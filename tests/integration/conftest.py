"""The real local stack, started once per test session and shared by every integration test.

`make test` runs `svyaz stack up` before pytest; the `stack` fixture does the same (idempotently),
so running `pytest tests/integration` alone also works. The stack is left running afterwards so a
warm run starts instantly; `.ci/run` stops it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from svyaz.regions import PORTS
from svyaz.stack.manager import Stack
from svyaz.stack.topology import default_state_dir, kafka_bootstrap, mongo_url, parse_regions

REGIONS = parse_regions(os.environ.get("SVYAZ_TEST_REGIONS", "ru,by,kz"))


@dataclass(frozen=True)
class StackEndpoints:
    regions: tuple[str, ...]

    def kafka(self, region: str) -> str:
        return kafka_bootstrap(region)

    def mongo(self, region: str) -> str:
        return mongo_url(region)

    def ports(self, region: str):
        return PORTS[region]


@pytest.fixture(scope="session")
def stack() -> StackEndpoints:
    Stack(default_state_dir(), progress=lambda line: print(f"[stack] {line}", flush=True)).up(REGIONS)
    return StackEndpoints(REGIONS)

