"""The real adapter (trio SDK in guest mode on an asyncio loop) against a real node, without the UI.

The node runs in this test's trio run; the adapter runs its own trio guest run inside asyncio in a
worker thread, as `svyaz chat` does in its process. Needs the local stack (`make stack-up`).
"""

from __future__ import annotations

import asyncio
import threading

import pytest
import trio
from pymongo import MongoClient

from svyaz.client.accounts import AccountBook, SealedFileSecrets
from svyaz.client.connection import NodeClient, RemoteError, open_node_client
from svyaz.client.messaging import Messenger, private_chat_id
from svyaz.client.session import tokens_from
from svyaz.tui.messenger_backend import MessengerBackend
from tests.integration.access.conftest import node  # noqa: F401  (fixture)
from tests.integration.access.test_attack_script import register_and_login
from tests.integration.access.test_cli_messaging import until_live

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("stack")]

ALICE, BOB = "@tui_alice:ru", "@tui_bob:ru"
CHAT = private_chat_id(ALICE, BOB)


async def test_the_adapter_lists_reads_sends_hears_and_switches_accounts(node, tmp_path):  # noqa: F811
    book = AccountBook(tmp_path / "client", SealedFileSecrets(tmp_path / "client" / "tokens.sealed", "test pass"))
    for account in (ALICE, BOB):
        book.add(account, node.url, tokens_from(await register_and_login(node, account)), make_current=account == ALICE)
    await until_live(node)
    bob_tokens = book.tokens(BOB).access_token
    async with open_node_client(node.url, access_token=bob_tokens) as bob_client:
        bob = Messenger(bob_client, account=BOB)
        await bob.send(ALICE, "first from bob")

        alice_listening = threading.Event()
        results: dict = {}

        async def alice_side() -> None:
            backend = MessengerBackend(book, call_timeout_s=20)
            events: asyncio.Queue = asyncio.Queue()
            lost: list = []
            try:
                results["me"] = await backend.connect(None, on_event=events.put_nowait, on_lost=lost.append)
                results["chats"] = await backend.chats()
                results["history"] = await backend.history(CHAT)
                await backend.read(CHAT, results["history"][-1]["seq"])
                results["sent"] = await backend.send("hello bob", to=BOB)
                try:
                    await backend.comment("c/none/p/1", "nope")
                except RemoteError as err:
                    results["refusal"] = err.code
                alice_listening.set()
                while True:
                    event = await asyncio.wait_for(events.get(), 20)
                    if event.get("kind") == "message.created" and event.get("actor") == BOB \
                            and event["message"]["text"] == "second from bob":
                        results["event"] = event
                        break
                results["switched"] = await backend.connect(BOB, on_event=lambda e: None, on_lost=lost.append)
                results["bob_chats"] = await backend.chats()
                results["lost"] = lost
            finally:
                await backend.close()

        async def bob_side() -> None:
            while not alice_listening.is_set():
                await trio.sleep(0.05)
            await bob.send(ALICE, "second from bob")

        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(bob_side)
                await trio.to_thread.run_sync(lambda: asyncio.run(alice_side()))

    assert results["me"] == ALICE
    listed = next(chat for chat in results["chats"] if chat["chat"] == CHAT)
    assert listed["kind"] == "private" and listed["peer"] == BOB and listed["unread"] == 1
    assert [m["text"] for m in results["history"]] == ["first from bob"]
    assert results["sent"]["chat"] == CHAT and results["sent"]["seq"] == 2
    assert results["refusal"]  # a refusal arrives as RemoteError with its code, through the guest run
    assert results["event"]["chat"] == CHAT and results["event"]["seq"] == 3
    assert results["switched"] == BOB
    assert any(chat["chat"] == CHAT and chat["read_seq"] >= 2 for chat in results["bob_chats"])
    assert results["lost"] == []


OWNER, READER, THIRD = "@tui_owner:ru", "@tui_reader:ru", "@tui_third:ru"


async def test_the_adapter_posts_to_its_channel_creates_a_group_and_invites(node, tmp_path):  # noqa: F811
    book = AccountBook(tmp_path / "client", SealedFileSecrets(tmp_path / "client" / "tokens.sealed", "test pass"))
    for account in (OWNER, READER, THIRD):
        book.add(account, node.url, tokens_from(await register_and_login(node, account)), make_current=account == OWNER)
    results: dict = {}

    async def app_side() -> None:
        backend = MessengerBackend(book, call_timeout_s=20)
        lost: list = []
        try:
            await backend.connect(OWNER, on_event=lambda e: None, on_lost=lost.append)
            channel = await backend.create_channel("TUI news")
            results["channel"] = channel
            results["owner_role"] = await backend.channel_role(channel["chat"])
            results["posted"] = await backend.post(channel["chat"], "first post")
            group = await backend.create_group("TUI team", [READER])
            results["group"] = group
            results["invited"] = await backend.invite(group["chat"], [THIRD, READER])
            results["sent"] = await backend.send("hello team", chat=group["chat"])
            results["owner_chats"] = await backend.chats()

            await backend.connect(READER, on_event=lambda e: None, on_lost=lost.append)
            results["subscribed"] = await backend.subscribe(channel["chat"])
            results["reader_role"] = await backend.channel_role(channel["chat"])
            try:
                await backend.post(channel["chat"], "not my channel")
            except RemoteError as err:
                results["refused"] = err.code
            results["posts"] = await backend.history(channel["chat"])
            results["reader_chats"] = await backend.chats()
            try:
                await backend.subscribe("c/ru/0000000000000000")
            except RemoteError as err:
                results["no_such_channel"] = err.code
            results["lost"] = lost
        finally:
            await backend.close()

    with trio.fail_after(60):
        await trio.to_thread.run_sync(lambda: asyncio.run(app_side()))

    channel, group = results["channel"], results["group"]
    assert channel["kind"] == "channel" and channel["owner"] == OWNER and channel["chat"].startswith("c/")
    assert results["owner_role"] == "owner" and results["reader_role"] == "subscriber"
    assert results["posted"]["chat"] == channel["chat"] and results["posted"]["seq"] == 1
    assert group["kind"] == "group" and group["title"] == "TUI team" and group["owner"] == OWNER
    assert results["invited"]["added"] == [THIRD]
    assert results["sent"]["chat"] == group["chat"] and results["sent"]["seq"] == 1
    assert {channel["chat"], group["chat"]} <= {chat["chat"] for chat in results["owner_chats"]}
    assert results["subscribed"]["chat"] == channel["chat"] and results["subscribed"]["owner"] == OWNER
    assert results["refused"] == "not_a_participant"
    assert [(post["text"], post["comments"]) for post in results["posts"]] == [("first post", 0)]
    listed = {chat["chat"]: chat for chat in results["reader_chats"]}
    assert listed[group["chat"]]["preview"] == "hello team" and listed[channel["chat"]]["kind"] == "channel"
    assert results["no_such_channel"] == "not_a_participant"
    assert results["lost"] == []


async def test_the_app_reconnects_after_the_node_goes_away_and_catches_up(stack, test_id, tmp_path):
    """The chat app itself (Pilot, real adapter) while the node stops and starts again on its port:
    "reconnecting…", then the message sent while it was away, the typed text still there."""
    from textual.widgets import Input

    from svyaz.node.service import run
    from svyaz.tui.app import make_app
    from svyaz.tui.screens.chat import ChatScreen
    from svyaz.tui.widgets.chat_list import ChatList
    from svyaz.tui.widgets.status import StatusBar
    from tests.integration.access.conftest import RunningNode, _until_ready, node_config, until_serving

    async def serve(config, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        stopped = trio.Event()
        try:
            async with trio.open_nursery() as nursery:
                ports = await nursery.start(run, config)
                task_status.started((RunningNode(config, ports), nursery.cancel_scope, stopped))
        finally:
            stopped.set()

    ALICE_R, BOB_R = "@tui_ra:ru", "@tui_rb:ru"
    chat = private_chat_id(ALICE_R, BOB_R)
    book = AccountBook(tmp_path / "client", SealedFileSecrets(tmp_path / "client" / "tokens.sealed", "test pass"))
    ready, node_back = threading.Event(), threading.Event()
    seen: dict = {}

    async def app_side() -> None:
        """The app, in this thread's asyncio loop; `sleep` holds the first reconnect wait until the
        node is back and the message written meanwhile is stored (so only the catch-up can show it)."""
        async def sleep(seconds: float) -> None:
            seen.setdefault("waits", []).append(seconds)
            while not node_back.is_set():
                await asyncio.sleep(0.05)
            await asyncio.sleep(min(seconds, 0.2))

        app = make_app(MessengerBackend(book, call_timeout_s=20), sleep=sleep)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            assert isinstance(screen, ChatScreen)

            async def until(condition, what: str, timeout: float = 60) -> None:
                for _ in range(int(timeout / 0.05)):
                    if condition():
                        return
                    await asyncio.sleep(0.05)
                raise AssertionError(f"{what}; status: {screen.query_one(StatusBar).text}")

            await until(lambda: any(c["chat"] == chat for c in screen.chats), "the chat is listed")
            chats = screen.query_one(ChatList)
            chats.focus()
            chats.index = next(i for i, c in enumerate(screen.chats) if c["chat"] == chat)
            await pilot.press("enter")
            await until(lambda: screen.open_chat is not None and len(screen.messages) == 1, "the chat is open")
            await pilot.press(*"typed before the drop")
            ready.set()
            await until(lambda: screen.reconnecting, "reconnecting")
            seen["status"] = screen.query_one(StatusBar).text
            await until(lambda: screen.query_one(StatusBar).text.startswith("reconnected as"), "reconnected", 90)
            await until(lambda: len(screen.messages) == 2, "caught up")
            seen["texts"] = [m["text"] for m in screen.messages]
            seen["composer"] = screen.query_one("#composer", Input).value
            await pilot.press("enter")  # the kept text goes out on the new connection
            await until(lambda: len(screen.messages) == 3, "sent after reconnecting")
            seen["after"] = [m["text"] for m in screen.messages]

    async with trio.open_nursery() as nursery:
        config = node_config(stack, test_id, tmp_path / "node")
        running, scope, stopped = await nursery.start(serve, config)
        try:
            await until_serving(running)
            for account in (ALICE_R, BOB_R):
                book.add(account, running.url, tokens_from(await register_and_login(running, account)),
                         make_current=account == ALICE_R)
            async with open_node_client(running.url, access_token=book.tokens(BOB_R).access_token) as client:
                await Messenger(client, account=BOB_R).send(ALICE_R, "before the drop")

            async def node_side() -> None:
                nonlocal running, scope, stopped
                while not ready.is_set():
                    await trio.sleep(0.05)
                scope.cancel()  # the node goes away: every connection closes
                await stopped.wait()
                again = node_config(stack, test_id, tmp_path / "node", gateway__port=str(running.ports.gateway))
                running, scope, stopped = await nursery.start(serve, again)
                await _until_ready(running)  # (until_serving would register its probe account again)
                async with open_node_client(running.url, access_token=book.tokens(BOB_R).access_token) as client:
                    with trio.fail_after(30):
                        while True:  # `unavailable` until the new node has read the role assignments
                            try:
                                await Messenger(client, account=BOB_R).send(ALICE_R, "while you were away")
                                break
                            except RemoteError as err:
                                if err.code != "unavailable":
                                    raise
                            await trio.sleep(0.2)
                node_back.set()

            with trio.fail_after(150):
                nursery.start_soon(node_side)
                await trio.to_thread.run_sync(lambda: asyncio.run(app_side()))
        finally:
            node_back.set()
            scope.cancel()
            with MongoClient(config.store.url) as mongo:
                for name in mongo.list_database_names():
                    if name.startswith(test_id):
                        mongo.drop_database(name)

    assert seen["status"].startswith("reconnecting…") and "node_unreachable" in seen["status"]
    assert seen["waits"][0] == 0.5
    assert seen["texts"] == ["before the drop", "while you were away"]
    assert seen["composer"] == "typed before the drop"
    assert seen["after"] == ["before the drop", "while you were away", "typed before the drop"]
