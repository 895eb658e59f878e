"""Watching federation on three real nodes: each side port's /federation after a message crossed
and after a garbage record, and `svyaz federation status --json` against their side ports."""

from __future__ import annotations

import json
import socket
import sys
import urllib.request

import pytest
import trio
from confluent_kafka import Producer

from svyaz.client.connection import open_node_client
from svyaz.node.federation.topic_names import inbound_topic
from tests.integration.access.test_attack_script import register_and_login
from tests.integration.federation.test_private_chats_across_borders import client_id, next_event, until

pytestmark = pytest.mark.usefixtures("stack")


def side_port(node) -> str:
    return f"http://127.0.0.1:{node.ports.http}"


async def federation_status(node) -> dict:
    def get() -> dict:
        with urllib.request.urlopen(side_port(node) + "/federation", timeout=10) as response:
            assert response.status == 200
            return json.loads(response.read())

    return await trio.to_thread.run_sync(get)


def produce(bootstrap: str, topic: str, value: bytes) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    errors = []
    producer.produce(topic, key=b"garbage", value=value, on_delivery=lambda err, _msg: err and errors.append(err))
    assert producer.flush(10) == 0 and not errors, f"produce to {topic} failed: {errors or 'timeout'}"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def run_cli(argv: list[str]) -> tuple[int, dict]:
    """`svyaz ...` in its own process (the nodes answer on this test's event loop)."""
    with trio.fail_after(60):
        done = await trio.run_process([sys.executable, "-m", "svyaz.cli", *argv], capture_stdout=True,
                                      capture_stderr=True, check=False)
    assert b"Traceback" not in done.stderr, done.stderr.decode()
    return done.returncode, json.loads(done.stdout)


async def test_a_crossing_and_a_refusal_show_on_both_nodes_and_in_the_status_command(federation):
    ru, kz = federation["ru"], federation["kz"]
    alice = await register_and_login(ru, "@alice:ru")
    bob = await register_and_login(kz, "@bob:kz")
    async with open_node_client(ru.url, access_token=alice["access_token"]) as a, \
            open_node_client(kz.url, access_token=bob["access_token"]) as b:
        await a.call("message.send", to="@bob:kz", text="как слышно?", client_id=client_id())
        await next_event(b, "message.created")

    async def applied_on_kz() -> bool:
        return (await federation_status(kz))["peers"]["ru"]["inbound"]["applied"] >= 1

    await until(applied_on_kz, bound_s=15)  # reported just after the record's outcome is durable
    on_kz, on_ru = await federation_status(kz), await federation_status(ru)

    assert (on_kz["region"], on_ru["region"]) == ("kz", "ru")
    assert on_kz["peers"]["ru"]["key_ids"] == [on_ru["key_id"]]
    assert on_ru["peers"]["kz"]["key_ids"] == [on_kz["key_id"]]
    received = on_kz["peers"]["ru"]["inbound"]
    assert received["last_lag_ms"] is not None and received["last_lag_ms"] >= 0
    assert received["lag_ms"]["samples"] >= 1 and received["lag_ms"]["p50"] is not None
    assert received["last_applied_at"] is not None and received["refused"] == {}
    sent = on_ru["peers"]["kz"]["outbound"]
    assert sent["sent"] >= 1 and sent["last_sent_at"] is not None and sent["last_delay_ms"] >= 0
    assert on_ru["peers"]["by"]["outbound"]["sent"] == 0

    # A record that is not an envelope, as if MirrorMaker 2 had carried it from ru.
    topic = inbound_topic(kz.config.kafka.topic_prefix, "ru", "kz")
    await trio.to_thread.run_sync(produce, kz.config.kafka.bootstrap_servers, topic, b"\x00 not an envelope")

    async def refused_on_kz() -> bool:
        return (await federation_status(kz))["peers"]["ru"]["inbound"]["refused"] == {"malformed": 1}

    await until(refused_on_kz, bound_s=15)

    nodes = [side_port(federation[region]) for region in ("ru", "by", "kz")]
    code, report = await run_cli(["federation", "status", "--json", *(f"--node={url}" for url in nodes)])

    assert code == 0 and report["ok"] is True
    assert [(node["url"], node["region"], node["state"]) for node in report["nodes"]] == [
        (nodes[0], "ru", "ok"), (nodes[1], "by", "ok"), (nodes[2], "kz", "ok")]
    pairs = {(pair["origin"], pair["destination"]): pair for pair in report["pairs"]}
    assert set(pairs) == {(a, b) for a in ("ru", "by", "kz") for b in ("ru", "by", "kz") if a != b}
    ru_kz = pairs[("ru", "kz")]
    assert ru_kz["sent"] >= 1 and ru_kz["applied"] >= 1 and ru_kz["refused"] == {"malformed": 1}
    assert ru_kz["lag_ms"]["p50"] is not None and ru_kz["backlog"] is not None
    assert pairs[("by", "kz")]["applied"] == 0 and pairs[("by", "kz")]["sent"] == 0
    assert any("kz refused 1 record(s) from ru: malformed 1" in problem for problem in report["problems"])

    dead = f"http://127.0.0.1:{closed_port()}"
    code, report = await run_cli(["federation", "status", "--json", "--timeout", "5", "--node", nodes[0],
                                  "--node", dead])

    assert code == 1 and report["ok"] is False
    assert [(node["url"], node["state"]) for node in report["nodes"]] == [(nodes[0], "ok"), (dead, "unreachable")]
