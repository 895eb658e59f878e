"""Two users chat through a real node: FerretDB stores, Kafka carries, the gateway delivers."""

from __future__ import annotations

import uuid

import pytest
import trio

from svyaz.client.connection import RemoteError, open_node_client
from svyaz.node.service import run
from tests.integration.access.conftest import RunningNode, node_config, until_serving
from tests.integration.access.test_attack_script import register_and_login

pytestmark = pytest.mark.usefixtures("stack")


def client_id() -> str:
    return uuid.uuid4().hex


async def next_event(client, kind: str, bound_s: float = 30.0) -> dict:
    with trio.fail_after(bound_s):
        async for frame in client.pushes:
            if frame.get("type") == "event" and frame.get("kind") == kind:
                return frame
    raise AssertionError("connection closed before the event came")


async def test_a_message_is_acked_with_its_seq_and_pushed_to_the_online_recipient(node):
    alice = await register_and_login(node, "@alice:ru")
    bob = await register_and_login(node, "@bob:ru")
    async with open_node_client(node.url, access_token=alice["access_token"]) as a, \
            open_node_client(node.url, access_token=bob["access_token"]) as b:
        first = await a.call("message.send", to="@bob:ru", text="Привет, Боб!", client_id=client_id())
        pushed = await next_event(b, "message.created")
        second = await a.call("message.send", to="@bob:ru", text="how are you?", client_id=client_id())

    assert (first["chat"], first["seq"], second["seq"]) == ("dm/@alice:ru/@bob:ru", 1, 2)
    assert pushed["message"]["text"] == "Привет, Боб!" and pushed["actor"] == "@alice:ru"


async def test_a_resend_with_the_same_client_id_stores_nothing_new(node):
    alice = await register_and_login(node, "@alice:ru")
    await register_and_login(node, "@bob:ru")
    same = client_id()
    async with open_node_client(node.url, access_token=alice["access_token"]) as a:
        sent = await a.call("message.send", to="@bob:ru", text="once", client_id=same)
        again = await a.call("message.send", to="@bob:ru", text="once", client_id=same)
        history = await a.call("message.history", chat=sent["chat"])

    assert again["seq"] == sent["seq"] == 1
    assert [m["text"] for m in history["messages"]] == ["once"]
    assert node.database("private")["messages"].count_documents({}) == 1


async def test_history_pages_both_ways_and_the_chat_list_counts_unread(node):
    alice = await register_and_login(node, "@alice:ru")
    bob = await register_and_login(node, "@bob:ru")
    async with open_node_client(node.url, access_token=alice["access_token"]) as a, \
            open_node_client(node.url, access_token=bob["access_token"]) as b:
        for n in range(1, 8):
            await a.call("message.send", to="@bob:ru", text=f"message {n}", client_id=client_id())
        chat = "dm/@alice:ru/@bob:ru"
        newest = await b.call("message.history", chat=chat, limit=3)
        older = await b.call("message.history", chat=chat, before=5, limit=3)
        newer = await b.call("message.history", chat=chat, after=5)
        unread = (await b.call("chat.list"))["chats"]
        await b.call("message.read", chat=chat, seq=7)
        read = (await b.call("chat.list"))["chats"]
        receipt = await next_event(a, "receipt.read")

    assert [m["seq"] for m in newest["messages"]] == [5, 6, 7]
    assert [m["seq"] for m in older["messages"]] == [2, 3, 4]
    assert [m["seq"] for m in newer["messages"]] == [6, 7]
    assert [(c["peer"], c["unread"], c["preview"]) for c in unread] == [("@alice:ru", 7, "message 7")]
    assert read[0]["unread"] == 0
    assert (receipt["actor"], receipt["seq"]) == ("@bob:ru", 7)


async def test_reply_edit_delete_and_forward(node):
    alice = await register_and_login(node, "@alice:ru")
    bob = await register_and_login(node, "@bob:ru")
    await register_and_login(node, "@carol:ru")
    chat = "dm/@alice:ru/@bob:ru"
    async with open_node_client(node.url, access_token=alice["access_token"]) as a, \
            open_node_client(node.url, access_token=bob["access_token"]) as b:
        await a.call("message.send", to="@bob:ru", text="lunch at 12?", client_id=client_id())
        await b.call("message.send", to="@alice:ru", text="yes", client_id=client_id(), reply_to=1)
        await a.call("message.edit", chat=chat, seq=1, text="lunch at 13?")
        with pytest.raises(RemoteError) as not_yours:
            await b.call("message.edit", chat=chat, seq=1, text="lunch never")
        await b.call("message.forward", to="@carol:ru", from_chat=chat, seq=1, client_id=client_id())
        await a.call("message.delete", chat=chat, seq=1, for_everyone=True)
        await b.call("message.delete", chat=chat, seq=2)  # for bob only
        seen_by_bob = (await b.call("message.history", chat=chat))["messages"]
        seen_by_alice = (await a.call("message.history", chat=chat))["messages"]
        forwarded = (await b.call("message.history", chat="dm/@bob:ru/@carol:ru"))["messages"]

    assert not_yours.value.code == "not_your_message"
    assert [(m["seq"], m.get("deleted", False), m["text"]) for m in seen_by_bob] == [(1, True, "")]
    assert [(m["seq"], m.get("reply_to")) for m in seen_by_alice] == [(1, None), (2, 1)]
    assert "edited_at" not in seen_by_alice[0]  # deleting cleared the text; the edit is moot
    assert [(m["text"], m["forwarded_from"]) for m in forwarded] == [("lunch at 13?", "@alice:ru")]


async def test_strangers_cannot_read_a_chat_and_bad_messages_are_refused_whole(node):
    alice = await register_and_login(node, "@alice:ru")
    await register_and_login(node, "@bob:ru")
    eve = await register_and_login(node, "@eve:ru")
    async with open_node_client(node.url, access_token=alice["access_token"]) as a, \
            open_node_client(node.url, access_token=eve["access_token"]) as e:
        await a.call("message.send", to="@bob:ru", text="secret plans", client_id=client_id())
        refusals = {}
        for name, action, args in [
            ("stranger", e, ("message.history", {"chat": "dm/@alice:ru/@bob:ru"})),
            ("too_long", a, ("message.send", {"to": "@bob:ru", "text": "x" * 4097, "client_id": client_id()})),
            ("empty", a, ("message.send", {"to": "@bob:ru", "text": "   ", "client_id": client_id()})),
            ("nobody", a, ("message.send", {"to": "@nobody:ru", "text": "hi", "client_id": client_id()})),
            ("abroad", a, ("message.send", {"to": "@bolat:kz", "text": "hi", "client_id": client_id()})),
            ("typo", a, ("message.send", {"to": "@bob:ru", "text": "hi", "client_id": client_id(), "reply": 1})),
            ("bad_id", a, ("message.send", {"to": "@bob:ru", "text": "hi", "client_id": "x"})),
            ("bad_seq", a, ("message.history", {"chat": "dm/@alice:ru/@bob:ru", "before": "5"})),
        ]:
            with pytest.raises(RemoteError) as refused:
                await action.call(args[0], **args[1])
            refusals[name] = refused.value.code
        still = await a.call("message.history", chat="dm/@alice:ru/@bob:ru")

    assert refusals == {"stranger": "not_a_participant", "too_long": "invalid_message", "empty": "invalid_message",
                        "nobody": "unknown_account", "abroad": "foreign_region", "typo": "invalid_field",
                        "bad_id": "invalid_message", "bad_seq": "invalid_field"}
    assert [m["text"] for m in still["messages"]] == ["secret plans"]  # the connection survived each refusal


async def test_a_flood_is_refused_with_a_retry_delay_and_the_connection_survives(nursery, stack, test_id, tmp_path):
    # A node of its own with a small budget: 3 at once, then one every 2 s.
    config = node_config(stack, test_id, tmp_path / "node", messaging__send_rate_per_s="0.5",
                         messaging__send_burst="3")
    with trio.fail_after(30):
        node = RunningNode(config, await nursery.start(run, config))
    await until_serving(node)
    alice = await register_and_login(node, "@alice:ru")
    await register_and_login(node, "@bob:ru")
    async with open_node_client(node.url, access_token=alice["access_token"]) as a:
        outcomes = []
        for n in range(6):
            try:
                await a.call("message.send", to="@bob:ru", text=f"spam {n}", client_id=client_id())
                outcomes.append("sent")
            except RemoteError as err:
                outcomes.append((err.code, err.retry_after_s))
        refused = [outcome for outcome in outcomes if outcome != "sent"]
        await trio.sleep(refused[-1][1])
        after_waiting = await a.call("message.send", to="@bob:ru", text="calm again", client_id=client_id())

    assert outcomes[:3] == ["sent"] * 3
    assert refused and all(code == "rate_limited" and 0 < wait <= 2 for code, wait in refused)
    assert after_waiting["seq"] == outcomes.count("sent") + 1  # nothing refused was stored


async def test_an_offline_recipient_gets_one_push_per_device_and_an_online_one_none(node):
    import json

    alice = await register_and_login(node, "@alice:ru")
    await register_and_login(node, "@bob:ru")  # a first device (session) of bob's
    await register_and_login_again(node, "@bob:ru")  # a second one
    pushes = node.config.data_path / "pushes.jsonl"
    async with open_node_client(node.url, access_token=alice["access_token"]) as a:
        offline = await a.call("message.send", to="@bob:ru", text="are you there?", client_id=client_id())
        with trio.fail_after(15):
            while not pushes.exists() or len(pushes.read_text().splitlines()) < 2:
                await trio.sleep(0.1)
        bob = await register_and_login_again(node, "@bob:ru")
        async with open_node_client(node.url, access_token=bob["access_token"]):
            online = await a.call("presence.get", account="@bob:ru")
            await a.call("message.send", to="@bob:ru", text="now you are", client_id=client_id())
            await trio.sleep(1.5)  # time for a wrong push to appear while bob is still connected

    lines = [json.loads(line) for line in pushes.read_text().splitlines()]
    assert online["online"] is True
    assert [(p["account"], p["seq"], p["sender"]) for p in lines] == [("@bob:ru", offline["seq"], "@alice:ru")] * 2
    assert len({p["device"] for p in lines}) == 2
    assert all("text" not in p for p in lines)  # a push says who wrote, never what


async def register_and_login_again(node, account: str) -> dict:
    from tests.integration.access.test_attack_script import PASSWORD

    async with open_node_client(node.url) as anonymous:
        return await anonymous.call("auth.login", account=account, password=PASSWORD, device="second")
