"""A real node (in-process) on the shared stack's ru FerretDB and Kafka, isolated by the test's id."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
import trio
from pymongo import MongoClient

from svyaz.client.connection import RemoteError, open_node_client
from svyaz.node.config import NodeConfig, load_config
from svyaz.node.service import BoundPorts, run


@dataclass(frozen=True)
class RunningNode:
    config: NodeConfig
    ports: BoundPorts

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.ports.gateway}/"

    def database(self, bulkhead: str):
        return MongoClient(self.config.store.url)[f"{self.config.store.database_prefix}_{bulkhead}"]


def node_config(stack, test_id: str, data_dir, *, region: str = "ru", **extra: str) -> NodeConfig:
    environ = {
        "SVYAZ_NODE__ID": f"{region}-{test_id}",
        "SVYAZ_NODE__DATA_DIR": str(data_dir),
        "SVYAZ_NODE__SHUTDOWN_GRACE_S": "2",
        "SVYAZ_GATEWAY__PORT": "0",
        "SVYAZ_GATEWAY__TRUSTED_PROXIES": "127.0.0.1",
        "SVYAZ_HTTP__PORT": "0",
        "SVYAZ_STORE__URL": stack.mongo(region),
        "SVYAZ_STORE__DATABASE_PREFIX": test_id,
        "SVYAZ_KAFKA__BOOTSTRAP_SERVERS": stack.kafka(region),
        "SVYAZ_KAFKA__TOPIC_PREFIX": f"{test_id}.",
        # Cheap hashes keep the hundred-failure attack quick; the real default is measured in docs/identity.md.
        "SVYAZ_IDENTITY__PASSWORD_ITERATIONS": "1000",
        "SVYAZ_IDENTITY__SESSION_CHECK_INTERVAL_S": "0.25",
        # The officer test writes an assignment behind the API's back, as an operator would.
        "SVYAZ_RBAC__RELOAD_INTERVAL_S": "1",
        "SVYAZ_LOG__LEVEL": "WARNING",
        **{f"SVYAZ_{key.upper()}": value for key, value in extra.items()},
    }
    return load_config(region, environ=environ)


@asynccontextmanager
async def serving_node(nursery: trio.Nursery, config: NodeConfig, test_id: str) -> AsyncIterator[RunningNode]:
    """A node on `config`, serving; afterwards the test's databases are dropped."""
    with trio.fail_after(20):
        ports = await nursery.start(run, config)
    running = RunningNode(config, ports)
    await until_serving(running)
    yield running
    with MongoClient(config.store.url) as client:
        for name in client.list_database_names():
            if name.startswith(test_id):
                client.drop_database(name)


@pytest.fixture
async def node(nursery, stack, test_id, tmp_path) -> RunningNode:
    async with serving_node(nursery, node_config(stack, test_id, tmp_path / "node"), test_id) as running:
        yield running


async def until_serving(node: RunningNode) -> None:
    """Sign-in works (roles loaded) and /readyz says 200 (store, Kafka, live feed)."""
    await _until_roles_loaded(node)
    await _until_ready(node)


async def _until_ready(node: RunningNode) -> None:
    """/readyz says 200 once the store, Kafka and the live delivery feed are all there."""
    url = f"http://127.0.0.1:{node.ports.http}/readyz"

    def ready() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return answer.status == 200
        except (urllib.error.URLError, OSError):
            return False

    with trio.fail_after(30):
        # In a thread: the node answering it runs on this very event loop.
        while not await trio.to_thread.run_sync(ready):
            await trio.sleep(0.1)


async def _until_roles_loaded(node: RunningNode) -> None:
    """Sign-in is refused ('unavailable') until the role watcher has read every assignment."""
    probe = f"@probe:{node.config.region}"
    async with open_node_client(node.url) as client:
        try:
            await client.call("account.register", account=probe, password="quiet harbour lantern 77")
        except RemoteError as err:
            if err.code != "taken_name":   # another process of the same node registered it
                raise
        with trio.fail_after(30):
            while True:
                try:
                    await client.call("auth.login", account=probe, password="quiet harbour lantern 77")
                    return
                except RemoteError as err:
                    if err.code != "unavailable":
                        raise
                await trio.sleep(0.1)
