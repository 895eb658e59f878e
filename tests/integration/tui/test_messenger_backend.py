"""The real adapter (trio SDK in guest mode on an asyncio loop) against a real node, without the UI.

The node runs in this test's trio run; the adapter runs its own trio guest run inside asyncio in a
worker thread, as `svyaz chat` does in its process. Needs the local stack (`make stack-up`).
"""

from __future__ import annotations

import asyncio
import threading

import pytest
import trio

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
