"""The store and Kafka probes against real servers, dead addresses and a server that never answers."""

from __future__ import annotations

import pytest
import trio

from svyaz.node.config import KafkaConfig, StoreConfig
from svyaz.node.errors import DependencyUnavailable, NodeError
from svyaz.node.events import KafkaEventBusProbe
from svyaz.node.store import open_store_probe


def store_config(url: str, *, timeout_s: float = 0.5) -> StoreConfig:
    return StoreConfig(url=url, database_prefix="t_adapters", timeout_s=timeout_s, max_threads=2)


async def test_store_probe_answers_against_ferretdb(ferretdb):
    with trio.fail_after(10):
        async with open_store_probe(store_config(ferretdb.url)) as probe:
            await probe.check()


async def test_store_probe_reports_a_dead_address_with_its_reason(free_port):
    port = free_port()
    with trio.fail_after(10):
        async with open_store_probe(store_config(f"mongodb://svyaz:hunter2@127.0.0.1:{port}/")) as probe:
            with pytest.raises(DependencyUnavailable) as raised:
                await probe.check()
    message = str(raised.value)
    assert message.startswith(f"store: 127.0.0.1:{port}: ")
    assert "refused" in message.lower()
    assert "hunter2" not in message


@pytest.mark.parametrize("url", ["mongodb://db:notaport/", "mongodb://a@/"])
async def test_an_unusable_store_url_is_a_node_error_naming_the_key(url):
    with trio.fail_after(10), pytest.raises(NodeError, match=r"^store\.url cannot be used: "):
        async with open_store_probe(store_config(url)):
            pass


async def test_a_silent_store_is_abandoned_at_the_probe_timeout_and_closes_promptly(nursery):
    # A server that accepts and then never says a word: pymongo would wait its full 5 s timeout.
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    held: list[trio.SocketStream] = []

    async def hold(stream: trio.SocketStream) -> None:
        held.append(stream)
        await trio.sleep_forever()

    await nursery.start(trio.serve_listeners, hold, listeners)
    with trio.fail_after(3):  # well under pymongo's 5 s: neither the probe nor the close waits for it
        async with open_store_probe(store_config(f"mongodb://127.0.0.1:{port}/", timeout_s=5)) as probe:
            with trio.move_on_after(0.3) as probe_deadline:
                await probe.check()
            assert probe_deadline.cancelled_caught
    assert held  # pymongo did connect; the server just never answered


async def test_kafka_probe_answers_against_the_ru_cluster(kafka_ru):
    probe = KafkaEventBusProbe(KafkaConfig(kafka_ru, topic_prefix="", timeout_s=2), client_id="t-adapters")
    with trio.fail_after(10):
        await probe.check()


async def test_kafka_probe_reports_a_dead_address(free_port):
    config = KafkaConfig(f"127.0.0.1:{free_port()}", topic_prefix="", timeout_s=0.5)
    probe = KafkaEventBusProbe(config, client_id="t-adapters")
    with trio.fail_after(10), pytest.raises(DependencyUnavailable, match=r"^kafka: "):
        await probe.check()


async def test_a_probe_cancelled_mid_request_returns_at_once(free_port):
    config = KafkaConfig(f"127.0.0.1:{free_port()}", topic_prefix="", timeout_s=5)
    probe = KafkaEventBusProbe(config, client_id="t-adapters")
    started = trio.current_time()
    with trio.move_on_after(0.2):
        await probe.check()
    assert trio.current_time() - started < 1  # the thread is abandoned, not waited for
