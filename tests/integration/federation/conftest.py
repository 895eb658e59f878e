"""Three real regional nodes (ru, by, kz), in-process, each on its own region's FerretDB and Kafka
of the shared stack, joined by the stack's MirrorMaker 2. Each test has its own databases and
topic prefix (`test_id`); the stack's MirrorMaker 2 mirrors prefixed outboxes too
(svyaz/stack/services.py), finding a test's new topics within its topic refresh interval."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import trio
from pymongo import MongoClient

from svyaz.federation.keyfile import PUBLIC_KEY_FILE, load_or_generate_federation_key
from svyaz.node.service import run
from tests.integration.access.conftest import RunningNode, node_config, until_serving

REGIONS = ("ru", "by", "kz")


@pytest.fixture(scope="session")
def federation_keys(tmp_path_factory) -> dict[str, Path]:
    """Each region's federation key directory, made once per session (peers pin the public keys)."""
    base = tmp_path_factory.mktemp("federation-keys")
    for region in REGIONS:
        load_or_generate_federation_key(base / region)
    return {region: base / region for region in REGIONS}


def federated_config(stack, test_id: str, data_dir: Path, region: str, keys: dict[str, Path], **extra: str):
    peers = ";".join(f"{peer}={keys[peer] / PUBLIC_KEY_FILE}" for peer in REGIONS if peer != region)
    # A test's outboxes are new topics: their first crossings wait for MirrorMaker 2 to find them.
    # The fault test's clients outlive the 5-minute default of an access token: give them an hour.
    return node_config(stack, test_id, data_dir, region=region, federation__enabled="true",
                       federation__key_dir=str(keys[region]), federation__peers=peers,
                       federation__answer_wait_s="60", identity__access_lifetime_s="3600", **extra)


@dataclass(frozen=True)
class Federation:
    nodes: dict[str, RunningNode]

    def __getitem__(self, region: str) -> RunningNode:
        return self.nodes[region]


async def start_node(nursery: trio.Nursery, config) -> RunningNode:
    with trio.fail_after(30):
        ports = await nursery.start(run, config)
    node = RunningNode(config, ports)
    await until_serving(node)
    return node


@pytest.fixture
async def federation(nursery, stack, test_id, tmp_path, federation_keys) -> Federation:
    nodes: dict[str, RunningNode] = {}

    async def start(region: str) -> None:
        config = federated_config(stack, test_id, tmp_path / region, region, federation_keys)
        nodes[region] = await start_node(nursery, config)

    async with trio.open_nursery() as starting:
        for region in REGIONS:
            starting.start_soon(start, region)
    yield Federation(nodes)
    for node in nodes.values():
        with MongoClient(node.config.store.url) as client:
            for name in client.list_database_names():
                if name.startswith(test_id):
                    client.drop_database(name)
