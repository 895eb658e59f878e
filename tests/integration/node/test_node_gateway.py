"""The gateway of a real in-process node, spoken to by a real trio-websocket client."""

from __future__ import annotations

import json
import os
import signal

import pytest
import trio
from trio_websocket import ConnectionClosed, ConnectionRejected, open_websocket_url

from svyaz.node.errors import NodeError
from svyaz.node.service import run

# What a browser sends to open a WebSocket, for tests that need a client misbehaving on purpose.
HANDSHAKE = (
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


@pytest.fixture
async def node(nursery, make_node_config):
    config = make_node_config(gateway__max_frame_bytes="1024", gateway__max_connections="3")
    with trio.fail_after(10):
        ports = await nursery.start(run, config)
    return config, ports


def connect(ports):
    """A client whose opening and closing handshakes are bounded like every other wait here."""
    return open_websocket_url(f"ws://127.0.0.1:{ports.gateway}/", connect_timeout=5, disconnect_timeout=5)


async def receive_json(ws) -> dict:
    with trio.fail_after(5):
        return json.loads(await ws.get_message())


async def test_hello_then_ping_pong(node):
    config, ports = node
    async with connect(ports) as ws:
        assert await receive_json(ws) == {
            "type": "hello",
            "region": "ru",
            "node": config.node.id,
            "protocol": 1,
        }
        for request_id in ("a", 2):
            await ws.send_message(json.dumps({"type": "ping", "id": request_id}))
            assert await receive_json(ws) == {"type": "pong", "id": request_id}


async def test_recoverable_errors_keep_the_connection_open(node):
    _, ports = node
    async with connect(ports) as ws:
        await receive_json(ws)  # hello
        for message, code in [
            ("{oops", "malformed_json"),
            ("[1,2,3]", "not_an_object"),
            ('{"type":"teleport","id":9}', "unknown_type"),
            (b"\x00\x01", "binary_frame"),
        ]:
            await ws.send_message(message)
            reply = await receive_json(ws)
            assert (reply["type"], reply["code"]) == ("error", code)
            assert reply["message"]
        await ws.send_message('{"type":"ping","id":"still-here"}')
        assert await receive_json(ws) == {"type": "pong", "id": "still-here"}
        assert ws.closed is None


async def test_an_oversize_frame_closes_with_1009(node, http_get):
    _, ports = node
    async with connect(ports) as ws:
        await receive_json(ws)
        await ws.send_message(json.dumps({"type": "ping", "id": "x" * 2000}))  # limit is 1024 here
        with trio.fail_after(5), pytest.raises(ConnectionClosed) as closed:
            await ws.get_message()
    assert closed.value.reason.code == 1009
    metrics = (await http_get(ports.http, "/metrics")).body.decode()
    assert 'svyaz_gateway_frame_errors_total{code="frame_too_large"} 1.0' in metrics


async def test_connections_over_the_limit_are_rejected_with_503(node):
    _, ports = node
    async with (
        connect(ports) as a,
        connect(ports) as b,
        connect(ports) as c,
    ):
        for ws in (a, b, c):
            await receive_json(ws)
        with trio.fail_after(5), pytest.raises(ConnectionRejected) as rejected:
            async with connect(ports):
                pass
        assert rejected.value.status_code == 503
        # The node hangs up after the 503 instead of holding the socket (and a descriptor) open.
        with trio.fail_after(5):
            async with await trio.open_tcp_stream("127.0.0.1", ports.gateway) as raw:
                await raw.send_all(HANDSHAKE)
                reply = b""
                while chunk := await raw.receive_some(4096):
                    reply += chunk
        assert reply.startswith(b"HTTP/1.1 503 ")
    # Slots free up once those connections close.
    async with connect(ports) as ws:
        assert (await receive_json(ws))["type"] == "hello"


async def test_frames_and_connections_are_counted(node, http_get):
    _, ports = node
    async with connect(ports) as ws:
        await receive_json(ws)
        await ws.send_message('{"type":"ping","id":1}')
        await receive_json(ws)
        await ws.send_message("nope")
        await receive_json(ws)
        metrics = (await http_get(ports.http, "/metrics")).body.decode()
    assert "svyaz_gateway_open_connections 1.0" in metrics
    assert 'svyaz_gateway_connections_total{outcome="accepted"} 1.0' in metrics
    assert "svyaz_gateway_frames_received_total 2.0" in metrics
    for kind in ("hello", "pong", "error"):
        assert f'svyaz_gateway_frames_sent_total{{type="{kind}"}} 1.0' in metrics
    assert 'svyaz_gateway_frame_errors_total{code="malformed_json"} 1.0' in metrics


async def test_sigterm_closes_connections_with_1001_and_run_returns(make_node_config, caplog):
    config = make_node_config()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            ports = await nursery.start(run, config)
            async with connect(ports) as ws:
                await receive_json(ws)
                # The node's signal receiver catches it, as it would from `kill` or a supervisor.
                os.kill(os.getpid(), signal.SIGTERM)
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.get_message()
                assert closed.value.reason.code == 1001
        # Leaving the nursery means run() returned by itself: nothing cancelled it.
    with pytest.raises(OSError):
        await trio.open_tcp_stream("127.0.0.1", ports.gateway)  # no longer accepting
    # The client answered the close, so shutdown finished without waiting out the grace period.
    assert "grace period over; cancelling what is left" not in caplog.messages


async def test_a_port_in_use_is_a_plain_node_error(make_node_config):
    with trio.socket.socket() as taken:
        await taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = make_node_config(gateway__port=str(port))
        with (
            trio.fail_after(10),
            pytest.raises(NodeError, match=rf"gateway.port: cannot listen on 127.0.0.1:{port}"),
        ):
            await run(config)


async def test_a_client_that_ignores_the_close_is_cut_off_at_the_grace_deadline(make_node_config, caplog):
    config = make_node_config(node__shutdown_grace_s="0.5")
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            ports = await nursery.start(run, config)
            # A raw client: completes the handshake, then never answers the close frame.
            stream = await trio.open_tcp_stream("127.0.0.1", ports.gateway)
            await stream.send_all(HANDSHAKE)
            assert (await stream.receive_some(4096)).startswith(b"HTTP/1.1 101 ")
            signalled = trio.current_time()
            os.kill(os.getpid(), signal.SIGTERM)
        stopped_after = trio.current_time() - signalled
        await stream.aclose()
    assert config.node.shutdown_grace_s <= stopped_after < config.node.shutdown_grace_s + 1
    assert "grace period over; cancelling what is left" in caplog.messages
