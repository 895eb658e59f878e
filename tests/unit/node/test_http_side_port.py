"""The side port's routes (pure) and its HTTP/1.1 handling over trio memory streams (no sockets)."""

from __future__ import annotations

import json

import h11
import pytest
import trio
import trio.testing
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from svyaz.node.http import SideRoutes, serve_http_connection
from svyaz.node.metrics import create_metrics
from svyaz.node.readiness import Readiness, record_probe

TIMEOUT_S = 5.0


def readiness(store_error: str | None = None, kafka_error: str | None = None) -> Readiness:
    value = Readiness.unknown(["store", "kafka"], now=0.0)
    value = record_probe(value, "store", error=store_error, now=1.0).readiness
    return record_probe(value, "kafka", error=kafka_error, now=2.0).readiness


@pytest.fixture
def state():
    return {"readiness": readiness()}


@pytest.fixture
def metrics():
    return create_metrics(CollectorRegistry())


@pytest.fixture
def routes(state, metrics):
    return SideRoutes(lambda: state["readiness"], metrics.registry)


# --- routing ---------------------------------------------------------------------------------------


def test_healthz_answers_whatever_the_dependencies(routes, state):
    state["readiness"] = readiness(store_error="store: down", kafka_error="kafka: down")
    response = routes.respond("GET", "/healthz")
    assert (response.status, response.content_type) == (200, "application/json")
    assert json.loads(response.body) == {"status": "ok"}


def test_readyz_is_200_when_every_dependency_answered(routes):
    response = routes.respond("GET", "/readyz")
    assert response.status == 200
    body = json.loads(response.body)
    assert body["ready"] is True
    assert body["dependencies"]["store"] == {
        "state": "up",
        "error": None,
        "since": "1970-01-01T00:00:01.000+00:00",
    }


def test_readyz_is_503_and_lists_each_dependency_and_its_error(routes, state):
    state["readiness"] = readiness(kafka_error="kafka: Local: Broker transport failure")
    response = routes.respond("GET", "/readyz")
    assert response.status == 503
    body = json.loads(response.body)
    assert body["ready"] is False
    assert body["dependencies"]["store"]["state"] == "up"
    assert body["dependencies"]["kafka"]["state"] == "down"
    assert body["dependencies"]["kafka"]["error"] == "kafka: Local: Broker transport failure"


def test_readyz_never_shows_credentials(routes, state):
    state["readiness"] = readiness(store_error="store: mongodb://svyaz:s3cret@db:27017 refused")
    body = routes.respond("GET", "/readyz").body.decode()
    assert "s3cret" not in body
    assert "mongodb://***@db:27017" in body


def test_readyz_before_the_first_probe(metrics):
    routes = SideRoutes(lambda: Readiness.unknown(["store"], now=0.0), metrics.registry)
    response = routes.respond("GET", "/readyz")
    assert response.status == 503
    assert json.loads(response.body)["dependencies"]["store"] == {
        "state": "unknown",
        "error": "not probed yet",
        "since": "1970-01-01T00:00:00.000+00:00",
    }


def test_metrics_renders_the_node_registry(routes, metrics):
    metrics.ready.set(1)
    response = routes.respond("GET", "/metrics")
    assert (response.status, response.content_type) == (200, CONTENT_TYPE_LATEST)
    assert b"svyaz_node_ready 1.0" in response.body


def test_query_string_is_ignored(routes):
    assert routes.respond("GET", "/healthz?verbose=1").status == 200


def test_unknown_path_is_404(routes):
    response = routes.respond("GET", "/admin")
    assert (response.status, response.route) == (404, "unknown")
    assert json.loads(response.body)["error"] == "not_found"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS"])
def test_other_methods_are_405_with_allow(routes, method):
    response = routes.respond(method, "/readyz")
    assert (response.status, response.allow) == (405, "GET, HEAD")


# --- HTTP/1.1 over a stream ---------------------------------------------------------------------


async def exchange(client: trio.abc.Stream, conn: h11.Connection, request: h11.Request, body: bytes = b""):
    """Send one request through `conn`, return (response, response body)."""
    data = conn.send(request)
    if body:
        data += conn.send(h11.Data(data=body))
    await client.send_all(data + conn.send(h11.EndOfMessage()))
    response, received = None, b""
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await client.receive_some(65536))
        elif isinstance(event, h11.Response):
            response = event
        elif isinstance(event, h11.Data):
            received += event.data
        elif isinstance(event, h11.EndOfMessage):
            return response, received


def get(path: str, method: str = "GET", **headers: str) -> h11.Request:
    return h11.Request(method=method, target=path, headers=[("host", "node"), *headers.items()])


async def read_to_eof(stream: trio.abc.Stream) -> bytes:
    data = b""
    while chunk := await stream.receive_some(65536):
        data += chunk
    return data


async def test_keep_alive_serves_several_requests_on_one_connection(routes, metrics, nursery):
    client, server = trio.testing.memory_stream_pair()
    nursery.start_soon(lambda: serve_http_connection(server, routes, metrics, timeout_s=TIMEOUT_S))
    conn = h11.Connection(h11.CLIENT)
    with trio.fail_after(5):
        for path, status in [("/healthz", 200), ("/readyz", 200), ("/nope", 404)]:
            response, _ = await exchange(client, conn, get(path))
            assert response.status_code == status
            conn.start_next_cycle()
    assert (
        metrics.registry.get_sample_value("svyaz_http_requests_total", {"route": "readyz", "status": "200"})
        == 1
    )


async def test_connection_close_is_honoured(routes, metrics, nursery):
    client, server = trio.testing.memory_stream_pair()
    nursery.start_soon(lambda: serve_http_connection(server, routes, metrics, timeout_s=TIMEOUT_S))
    conn = h11.Connection(h11.CLIENT)
    with trio.fail_after(5):
        response, body = await exchange(client, conn, get("/healthz", connection="close"))
        assert response.status_code == 200 and body == b'{"status":"ok"}'
        assert response.reason == b"OK"
        assert await read_to_eof(client) == b""  # the server closed its side


async def test_head_gets_headers_without_a_body(routes, metrics, nursery):
    client, server = trio.testing.memory_stream_pair()
    nursery.start_soon(lambda: serve_http_connection(server, routes, metrics, timeout_s=TIMEOUT_S))
    conn = h11.Connection(h11.CLIENT)
    with trio.fail_after(5):
        response, body = await exchange(client, conn, get("/healthz", method="HEAD"))
    assert response.status_code == 200
    assert dict(response.headers)[b"content-length"] == b"15"
    assert body == b""


async def test_a_request_body_is_read_and_ignored(routes, metrics, nursery):
    client, server = trio.testing.memory_stream_pair()
    nursery.start_soon(lambda: serve_http_connection(server, routes, metrics, timeout_s=TIMEOUT_S))
    conn = h11.Connection(h11.CLIENT)
    request = h11.Request(method="POST", target="/readyz", headers=[("host", "n"), ("content-length", "5")])
    with trio.fail_after(5):
        response, _ = await exchange(client, conn, request, body=b"hello")
        assert response.status_code == 405
        conn.start_next_cycle()
        response, _ = await exchange(client, conn, get("/healthz"))  # the body did not leak into this one
        assert response.status_code == 200


async def test_garbage_gets_400_and_the_connection_closes(routes, metrics, nursery):
    client, server = trio.testing.memory_stream_pair()
    nursery.start_soon(lambda: serve_http_connection(server, routes, metrics, timeout_s=TIMEOUT_S))
    with trio.fail_after(5):
        await client.send_all(b"NOT HTTP AT ALL\r\n\r\n")
        reply = await read_to_eof(client)
    assert reply.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b'"error":"bad_request"' in reply


async def test_oversized_request_head_is_refused(routes, metrics, nursery):
    client, server = trio.testing.memory_stream_pair()
    nursery.start_soon(lambda: serve_http_connection(server, routes, metrics, timeout_s=TIMEOUT_S))
    with trio.fail_after(5):
        await client.send_all(b"GET /healthz HTTP/1.1\r\nhost: n\r\nx-filler: " + b"a" * 20_000 + b"\r\n\r\n")
        reply = await read_to_eof(client)
    assert reply.startswith(b"HTTP/1.1 431 ")


async def test_a_client_that_hangs_up_ends_the_handler(routes, metrics):
    client, server = trio.testing.memory_stream_pair()
    await client.aclose()
    with trio.fail_after(5):
        await serve_http_connection(server, routes, metrics, timeout_s=TIMEOUT_S)


async def test_a_slow_client_is_dropped_after_the_timeout(routes, metrics, autojump_clock):
    client, server = trio.testing.memory_stream_pair()
    await client.send_all(b"GET /healthz HTTP/1.1\r\nhost: n\r\n")  # ...and never finishes
    started = trio.current_time()
    await serve_http_connection(server, routes, metrics, timeout_s=TIMEOUT_S)
    assert trio.current_time() - started == pytest.approx(TIMEOUT_S)
    assert await read_to_eof(client) == b""  # dropped without an answer


async def test_an_idle_keep_alive_connection_is_closed_after_the_timeout(
    routes, metrics, nursery, autojump_clock
):
    client, server = trio.testing.memory_stream_pair()
    done = trio.Event()

    async def serve() -> None:
        await serve_http_connection(server, routes, metrics, timeout_s=TIMEOUT_S)
        done.set()

    nursery.start_soon(serve)
    conn = h11.Connection(h11.CLIENT)
    response, _ = await exchange(client, conn, get("/healthz"))
    assert response.status_code == 200
    with trio.fail_after(TIMEOUT_S + 1):
        await done.wait()


async def test_a_failing_route_closes_that_connection_only(metrics, caplog):
    def broken() -> Readiness:
        raise RuntimeError("bug in readiness")

    client, server = trio.testing.memory_stream_pair()
    await client.send_all(b"GET /readyz HTTP/1.1\r\nhost: n\r\n\r\n")
    with trio.fail_after(5):
        await serve_http_connection(
            server, SideRoutes(broken, metrics.registry), metrics, timeout_s=TIMEOUT_S
        )
        assert await read_to_eof(client) == b""
    assert "side port connection failed" in caplog.messages
