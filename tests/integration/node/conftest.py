"""Fixtures for running real nodes: configurations on port 0, a private FerretDB or Kafka, the
shared stack's ru Kafka, HTTP.

Every node here talks to real servers or to addresses where nothing listens; none is faked.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import h11
import pytest
import trio

from svyaz.node.config import NodeConfig, load_config
from svyaz.stack.manager import Stack, resolve_runtime
from svyaz.stack.process import kill
from svyaz.stack.services import FerretDB, KafkaBroker, Runtime, Service


HttpGet = Callable[[int, str], Awaitable["HttpReply"]]


def free_port() -> int:
    """A loopback port nothing listens on right now (and so refuses connections)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateDaemon:
    """A stack service owned by one test, which may kill it (SIGKILL, like a crash) and start it
    again on the same port and data directory, to see the node notice both."""

    def __init__(self, service: Service, state_dir: Path) -> None:
        self.service = service
        self._stack = Stack(state_dir, progress=lambda _: None)

    @property
    def port(self) -> int:
        return self.service.port

    @property
    def url(self) -> str:
        """The Mongo URL of a private FerretDB."""
        return self.service.url

    @property
    def bootstrap(self) -> str:
        """The bootstrap address of a private Kafka broker."""
        return self.service.bootstrap

    async def start(self) -> None:
        """Start and wait until healthy (in a thread: the stack's start-up is blocking)."""
        await trio.to_thread.run_sync(self._stack.start_services, [self.service])

    def kill(self) -> None:
        record = self._stack.table.load().get(self.service.name)
        if record is not None:
            kill(record)

    def stop(self) -> None:
        self._stack.down()


@pytest.fixture(scope="session")
def runtime() -> Runtime:
    return resolve_runtime(progress=lambda _: None)


@pytest.fixture
async def ferretdb(tmp_path: Path, runtime: Runtime) -> AsyncIterator[PrivateDaemon]:
    state_dir = tmp_path / "private-ferretdb"
    server = PrivateDaemon(FerretDB("ru", state_dir, runtime, port=free_port(), debug_port=free_port()), state_dir)
    try:
        await server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
async def private_kafka(tmp_path: Path, runtime: Runtime) -> AsyncIterator[PrivateDaemon]:
    """A Kafka broker of this test's own, on free ports: it may be killed without harming others."""
    state_dir = tmp_path / "private-kafka"
    broker = KafkaBroker("ru", state_dir, runtime, port=free_port(), controller_port=free_port())
    server = PrivateDaemon(broker, state_dir)
    try:
        await server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def kafka_ru(stack) -> str:
    """The ru region's Kafka of the shared development stack."""
    return stack.kafka("ru")


@pytest.fixture
def make_node_config(test_id: str, tmp_path) -> Callable[..., NodeConfig]:
    """A ru node on port 0 with fast probes; store and Kafka default to addresses where nothing listens."""

    def make(*, store_url: str | None = None, kafka: str | None = None, **settings: str) -> NodeConfig:
        """`settings` are extra SVYAZ_ variables without the prefix, e.g. gateway__max_connections="3"."""
        environ = {
            "SVYAZ_NODE__ID": f"ru-{test_id}",
            # Its own keys and audit anchors: never the development node's in .svyaz/.
            "SVYAZ_NODE__DATA_DIR": str(tmp_path / "node"),
            "SVYAZ_NODE__SHUTDOWN_GRACE_S": "2",
            "SVYAZ_HEALTH__PROBE_INTERVAL_S": "0.2",
            "SVYAZ_HEALTH__PROBE_TIMEOUT_S": "1",
            "SVYAZ_STORE__TIMEOUT_S": "0.5",
            "SVYAZ_KAFKA__TIMEOUT_S": "0.5",
            # Each test its own databases and topics, so tests can share one running stack.
            "SVYAZ_STORE__DATABASE_PREFIX": test_id,
            "SVYAZ_KAFKA__TOPIC_PREFIX": f"{test_id}.",
            "SVYAZ_GATEWAY__PORT": "0",
            "SVYAZ_HTTP__PORT": "0",
            "SVYAZ_STORE__URL": store_url or f"mongodb://127.0.0.1:{free_port()}/",
            "SVYAZ_KAFKA__BOOTSTRAP_SERVERS": kafka or f"127.0.0.1:{free_port()}",
            **{f"SVYAZ_{key.upper()}": value for key, value in settings.items()},
        }
        return load_config("ru", environ=environ)

    return make


@dataclass(frozen=True)
class HttpReply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


async def _http_get(port: int, path: str) -> HttpReply:
    """One GET on a fresh connection, through h11 like the server."""
    with trio.fail_after(5):
        async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
            conn = h11.Connection(h11.CLIENT)
            request = h11.Request(
                method="GET", target=path, headers=[("host", "node"), ("connection", "close")]
            )
            await stream.send_all(conn.send(request) + conn.send(h11.EndOfMessage()))
            status, headers, body = 0, {}, b""
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await stream.receive_some(65536))
                elif isinstance(event, h11.Response):
                    status = event.status_code
                    headers = {name.decode(): value.decode() for name, value in event.headers}
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    return HttpReply(status, headers, body)


@pytest.fixture
def http_get() -> HttpGet:
    return _http_get


@pytest.fixture(name="free_port")
def free_port_fixture() -> Callable[[], int]:
    return free_port
