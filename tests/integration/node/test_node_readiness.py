"""Readiness of a real in-process node against real FerretDB and Kafka servers going away and back."""

from __future__ import annotations

from collections.abc import Callable

import trio
from prometheus_client import CONTENT_TYPE_LATEST

from svyaz.node.service import run


async def poll_readyz(http_get, port: int, until: Callable[[object], bool], *, within: float):
    """Poll /readyz until `until(reply)` holds; fails the test after `within` seconds."""
    with trio.fail_after(within):
        while True:
            reply = await http_get(port, "/readyz")
            if until(reply):
                return reply
            await trio.sleep(0.05)


async def start_node(nursery, config):
    with trio.fail_after(10):
        return await nursery.start(run, config)


def status_is(status: int) -> Callable[[object], bool]:
    return lambda reply: reply.status == status


async def test_readiness_follows_the_store_going_away_and_coming_back(
    nursery, ferretdb, kafka_ru, make_node_config, http_get
):
    config = make_node_config(store_url=ferretdb.url, kafka=kafka_ru)
    interval = config.health.probe_interval_s
    ports = await start_node(nursery, config)
    reply = await poll_readyz(http_get, ports.http, status_is(200), within=10)
    assert reply.json()["ready"] is True

    ferretdb.kill()
    # A few probe intervals, plus the driver's own timeout.
    reply = await poll_readyz(
        http_get, ports.http, status_is(503), within=5 * interval + config.store.timeout_s
    )
    dependencies = reply.json()["dependencies"]
    assert dependencies["store"]["state"] == "down"
    assert str(ferretdb.port) in dependencies["store"]["error"]
    assert dependencies["kafka"]["state"] == "up"
    assert (await http_get(ports.http, "/healthz")).status == 200  # alive while not ready
    metrics = (await http_get(ports.http, "/metrics")).body.decode()
    assert "svyaz_node_ready 0.0" in metrics
    assert 'svyaz_node_dependency_up{dependency="store"} 0.0' in metrics

    await ferretdb.start()  # same port, same data directory
    reply = await poll_readyz(http_get, ports.http, status_is(200), within=10)
    assert reply.json()["dependencies"]["store"]["error"] is None


async def test_unreachable_kafka_keeps_the_node_unready_and_says_why(
    nursery, ferretdb, make_node_config, http_get
):
    ports = await start_node(
        nursery, make_node_config(store_url=ferretdb.url)
    )  # Kafka: nothing listens there

    def both_probed(reply) -> bool:
        return all(d["state"] != "unknown" for d in reply.json()["dependencies"].values())

    reply = await poll_readyz(http_get, ports.http, both_probed, within=5)
    assert reply.status == 503
    body = reply.json()
    assert body["ready"] is False
    assert body["dependencies"]["store"]["state"] == "up"
    assert body["dependencies"]["kafka"]["state"] == "down"
    assert body["dependencies"]["kafka"]["error"].startswith("kafka: ")


async def test_side_port_routes_on_a_real_socket(nursery, make_node_config, http_get):
    ports = await start_node(nursery, make_node_config())
    healthz = await http_get(ports.http, "/healthz")
    assert (healthz.status, healthz.json()) == (200, {"status": "ok"})
    metrics = await http_get(ports.http, "/metrics")
    assert metrics.status == 200
    assert metrics.headers["content-type"] == CONTENT_TYPE_LATEST
    assert "svyaz_node_ready 0.0" in metrics.body.decode()
    assert (await http_get(ports.http, "/nothing")).status == 404
    # Raw garbage gets a 400, and the server carries on.
    with trio.fail_after(5):
        async with await trio.open_tcp_stream("127.0.0.1", ports.http) as stream:
            await stream.send_all(b"\x16\x03\x01 not http\r\n\r\n")
            assert (await stream.receive_some(1024)).startswith(b"HTTP/1.1 400 ")
    assert (await http_get(ports.http, "/healthz")).status == 200


async def test_readiness_follows_kafka_going_away_and_coming_back(
    nursery, ferretdb, private_kafka, make_node_config, http_get
):
    config = make_node_config(store_url=ferretdb.url, kafka=private_kafka.bootstrap)
    ports = await start_node(nursery, config)
    # The broker was started just before: its first metadata answer can take long on a busy machine.
    await poll_readyz(http_get, ports.http, status_is(200), within=30)

    private_kafka.kill()  # SIGKILL: the broker vanishes mid-session
    reply = await poll_readyz(http_get, ports.http, status_is(503), within=10)
    dependencies = reply.json()["dependencies"]
    assert dependencies["kafka"]["state"] == "down"
    assert dependencies["store"]["state"] == "up"
    assert (await http_get(ports.http, "/healthz")).status == 200

    await private_kafka.start()  # same ports, same log directory
    reply = await poll_readyz(http_get, ports.http, status_is(200), within=30)
    assert reply.json()["dependencies"]["kafka"]["error"] is None
