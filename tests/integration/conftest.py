"""The real local stack, started once per test session and shared by every integration test.

`make test` runs `svyaz stack up` before pytest; the `stack` fixture does the same (idempotently),
so running `pytest tests/integration` alone also works. The stack is left running afterwards so a
warm run starts instantly; `.ci/run` stops it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from svyaz.regions import PORTS
from tests.conftest import ISSUED_TEST_IDS
from svyaz.stack.manager import Stack
from svyaz.regions import default_state_dir
from svyaz.stack.topology import kafka_bootstrap, mongo_url, parse_regions

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


_stack_used = False


@pytest.fixture(scope="session")
def stack() -> StackEndpoints:
    global _stack_used
    Stack(default_state_dir(), progress=lambda line: print(f"[stack] {line}", flush=True)).up(REGIONS)
    _stack_used = True
    return StackEndpoints(REGIONS)



# Databases and topics named by the `test_id` fixture: `t` and eight hex digits, then `_` or `.`;
# MirrorMaker 2's copies of a test's outboxes carry their source region first (`ru.t1234abcd.outbox.kz`).
TEST_NAMES = re.compile(r"^(?:(?:ru|by|kz)\.)?(t[0-9a-f]{8})[_.]")
MIRRORED = re.compile(r"^(?:ru|by|kz)\.")


def _issued_here(name: str) -> bool:
    match = TEST_NAMES.match(name)
    return match is not None and match.group(1) in ISSUED_TEST_IDS


@pytest.fixture(scope="session", autouse=True)
def drop_test_data():
    """After the session, remove what this session's tests left on the shared stack (their own
    names only: another run on the same stack may still be using its own)."""
    yield
    if not _stack_used:
        return
    for region in REGIONS:
        try:
            with MongoClient(mongo_url(region), serverSelectionTimeoutMS=3000) as client:
                for name in client.list_database_names():
                    if _issued_here(name):
                        client.drop_database(name)
        except PyMongoError:
            pass  # a stack that went away takes its test data with it
    # Outboxes first, their MirrorMaker 2 copies after: a copy deleted while its source still
    # exists is made again.
    for copies in (False, True):
        for region in REGIONS:
            try:
                admin = AdminClient({"bootstrap.servers": kafka_bootstrap(region)})
                doomed = [t for t in admin.list_topics(timeout=10).topics
                          if _issued_here(t) and (MIRRORED.match(t) is not None) == copies]
                for future in (admin.delete_topics(doomed).values() if doomed else []):
                    future.result(timeout=30)
            except KafkaException:
                pass
