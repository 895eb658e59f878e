"""A connection that stops reading its live events is told to go instead of holding the gateway's
feed back or its memory; the others keep getting theirs."""

from __future__ import annotations

import urllib.request
import uuid

import pytest
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from svyaz.client.connection import open_node_client
from tests.integration.access.conftest import node_config, until_serving, RunningNode
from tests.integration.access.test_attack_script import register_and_login
from svyaz.node.service import run

TOO_SLOW = 4003
ABNORMAL = 1006
# Four UTF-8 bytes per character: about 16 KB per event, so the few MB of socket buffers between the
# gateway and a reader that stopped fill after a couple of hundred messages.
BIG_TEXT = "𝕏" * 4000
MAX_SENDS = 600


def told_to_go(node: RunningNode) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{node.ports.http}/metrics", timeout=5) as answer:
        return 'svyaz_gateway_frame_errors_total{code="too_slow"} 1.0' in answer.read().decode()


@pytest.fixture
async def small_outbox_node(nursery, stack, test_id, tmp_path) -> RunningNode:
    config = node_config(stack, test_id, tmp_path / "node", gateway__outbox_size="4",
                         messaging__send_rate_per_s="100000", messaging__send_burst="100000")
    with trio.fail_after(20):
        ports = await nursery.start(run, config)
    running = RunningNode(config, ports)
    await until_serving(running)
    return running


async def test_a_connection_that_stops_reading_is_closed_with_4003_and_others_are_unaffected(small_outbox_node):
    node = small_outbox_node
    senders = ["@alice:ru", "@carol:ru", "@dave:ru"]
    tokens = {account: await register_and_login(node, account) for account in [*senders, "@bob:ru"]}
    received_by_other: dict[str, set[int]] = {account: set() for account in senders}
    sent: dict[str, list[int]] = {account: [] for account in senders}
    stop = trio.Event()

    async def keep_reading(client, into: dict[str, set[int]] | None = None) -> None:
        async for frame in client.pushes:
            if into is not None and frame.get("kind") == "message.created":
                into[frame["actor"]].add(frame["seq"])

    async def send_until_told(account: str) -> None:
        async with open_node_client(node.url, access_token=tokens[account]["access_token"]) as client, \
                trio.open_nursery() as reading:
            reading.start_soon(keep_reading, client)
            while not stop.is_set() and sum(map(len, sent.values())) < MAX_SENDS:
                answer = await client.call("message.send", to="@bob:ru", text=BIG_TEXT, client_id=uuid.uuid4().hex)
                sent[account].append(answer["seq"])
            reading.cancel_scope.cancel()

    async def watch_metrics() -> None:
        # The stalled reader cannot see its close yet (it sits behind the unread frames): ask the
        # node's metrics whether it has told a connection to go.
        while not await trio.to_thread.run_sync(told_to_go, node):
            await trio.sleep(0.2)
        stop.set()

    bob = tokens["@bob:ru"]["access_token"]
    # A raw WebSocket whose reader stops after one queued message: nothing more is taken off the socket.
    async with open_websocket_url(node.url, extra_headers=[("Authorization", f"Bearer {bob}")],
                                  message_queue_size=1) as stalled, \
            open_node_client(node.url, access_token=bob) as bobs_other_device, \
            trio.open_nursery() as readers:
        readers.start_soon(keep_reading, bobs_other_device, received_by_other)
        await bobs_other_device.call("account.profile.read")   # attached to the feed before sending
        with trio.fail_after(180):
            async with trio.open_nursery() as load:
                load.start_soon(watch_metrics)
                for account in senders:
                    load.start_soon(send_until_told, account)
                while not stop.is_set() and sum(map(len, sent.values())) < MAX_SENDS:
                    await trio.sleep(0.1)
                load.cancel_scope.cancel()
        # The reader resumes: the frames queued before the close, then the close.
        with trio.fail_after(30):
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await stalled.get_message()
            while any(not set(sent[a]) <= received_by_other[a] for a in senders):
                await trio.sleep(0.05)
        readers.cancel_scope.cancel()

    # Its last frame never left (the reader stopped), so the node could not write the 4003 after it
    # and dropped the connection instead: the client sees an abnormal close (1006) and reconnects.
    assert closed.value.reason.code in (TOO_SLOW, ABNORMAL)
    assert stop.is_set(), f"the stalled connection was never told to go ({MAX_SENDS} messages sent)"
    # Bob's other device got every message live: one slow connection held nobody back.
    assert all(set(sent[a]) <= received_by_other[a] for a in senders)
