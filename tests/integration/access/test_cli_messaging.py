"""Chatting from the CLI and the client SDK against a real node: two users on their own devices,
two accounts on one device, bad input, and the live event stream (once each, delivery acknowledged)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, field

import trio

from svyaz.client.connection import open_node_client
from svyaz.client.messaging import Messenger, private_chat_id, send_reliably
from svyaz.messaging import ids
from tests.integration.access.test_attack_script import register_and_login
from tests.integration.access.test_cli_accounts import PASSWORD, output, svyaz

CHAT = "dm/@alice:ru/@bob:ru"


async def until_live(node) -> None:
    """Wait until the node's gateway delivers events live (its feed is positioned on Kafka only
    some time after start-up), probing with typing events, which store nothing."""
    one, other = await register_and_login(node, "@live_one:ru"), await register_and_login(node, "@live_other:ru")
    async with open_node_client(node.url, access_token=one["access_token"]) as typist, \
            open_node_client(node.url, access_token=other["access_token"]) as watcher:
        await Messenger(watcher).whoami()
        with trio.fail_after(60):
            while True:
                await typist.call("chat.typing", chat=private_chat_id("@live_one:ru", "@live_other:ru"))
                with trio.move_on_after(0.5):
                    if (await watcher.pushes.receive()).get("kind") == "typing":
                        return


async def register(node, device, account: str) -> None:
    await svyaz(device, "account", "register", "--account", account, "--node", node.url, "--password-stdin",
                stdin=PASSWORD + "\n")


@dataclass
class Listener:
    """`svyaz listen` running in the background, its output gathered as it comes."""

    process: trio.Process
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    ready: trio.Event = field(default_factory=trio.Event)
    drained: trio.Event = field(default_factory=trio.Event)

    async def finished(self) -> int:
        with trio.move_on_after(60):
            await self.process.wait()
            await self.drained.wait()
        assert self.drained.is_set(), f"listen did not end; it wrote {self.stdout!r} and {self.stderr!r}"
        return self.process.returncode

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.decode().splitlines()]


async def _drain(stream: trio.abc.ReceiveStream, into: bytearray, *, until: bytes | None = None,
                 reached: trio.Event | None = None, done: trio.Event | None = None) -> None:
    async for chunk in stream:
        into.extend(chunk)
        if until is not None and reached is not None and until in into:
            reached.set()
    if reached is not None:
        reached.set()  # the process ended first: the caller finds out from its stderr
    if done is not None:
        done.set()


@asynccontextmanager
async def listening(device, *args: str):
    """Start `svyaz listen ARGS` on `device` and wait until it is served, so nothing sent later is missed."""
    env = {**os.environ, "SVYAZ_CLIENT_DIR": str(device / "client"),
           "SVYAZ_KEYRING_PASSPHRASE": "device passphrase for tests"}
    process = await trio.lowlevel.open_process([sys.executable, "-m", "svyaz.cli", "listen", *args],
                                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    listener = Listener(process)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda: _drain(process.stdout, listener.stdout, done=listener.drained))
            nursery.start_soon(lambda: _drain(process.stderr, listener.stderr, until=b"listening as",
                                              reached=listener.ready))
            with trio.move_on_after(30):
                await listener.ready.wait()
            assert b"listening as" in listener.stderr, f"listen did not start: {listener.stderr!r}"
            yield listener
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def test_two_users_chat_through_the_cli(node, tmp_path):
    await until_live(node)
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    await register(node, alice, "@alice:ru")
    await register(node, bob, "@bob:ru")

    async with listening(bob, "--count", "1", "--json", "--timeout", "30") as listener:
        sent = output(await svyaz(alice, "send", "@bob:ru", "Привет, Боб!\nКак дела?", "--json"))
        status = await listener.finished()
    history = output(await svyaz(bob, "history", "@alice:ru", "--json"))["messages"]
    shown = (await svyaz(bob, "history", "@alice:ru")).stdout.decode()
    unread = output(await svyaz(bob, "chats", "--json"))["chats"]
    read = await svyaz(bob, "read", "@alice:ru")
    after = output(await svyaz(bob, "chats", "--json"))["chats"]

    assert (sent["chat"], sent["seq"], len(sent["client_id"])) == (CHAT, 1, 32)
    assert status == 0, listener.stderr.decode()
    [event] = listener.lines()
    assert (event["kind"], event["actor"], event["chat"], event["seq"]) == ("message.created", "@alice:ru", CHAT, 1)
    assert event["message"]["text"] == "Привет, Боб!\nКак дела?"
    assert [(m["seq"], m["sender"], m["text"]) for m in history] == [(1, "@alice:ru", "Привет, Боб!\nКак дела?")]
    assert "@alice:ru: Привет, Боб!" in shown
    assert [(c["chat"], c["peer"], c["unread"], c["preview"]) for c in unread] == [
        (CHAT, "@alice:ru", 1, "Привет, Боб! Как дела?")]
    assert read.stdout.decode().strip() == f"read {CHAT} up to #1"
    assert [c["unread"] for c in after] == [0]
    # The listener acknowledged delivery before it printed the message; reading moved the read cursor.
    cursor = node.database("private")["cursors"].find_one({"_id": f"{CHAT}|@bob:ru"})
    assert (cursor["delivered"], cursor["read"]) == (1, 1)


async def test_a_second_account_on_the_device_switches_and_sends_as_the_other(node, tmp_path):
    await until_live(node)
    phone, bob = tmp_path / "phone", tmp_path / "bob"
    await register(node, bob, "@bob:ru")
    await register(node, phone, "@alice:ru")
    await register(node, phone, "@alice_work:ru")  # now the current account of the phone

    await svyaz(phone, "send", "@bob:ru", "from work")
    await svyaz(phone, "account", "use", "@alice:ru")
    personal = output(await svyaz(phone, "send", "@bob:ru", "from home", "--json"))
    # --as picks the other account for one command without switching.
    by_as = output(await svyaz(phone, "send", "@bob:ru", "work again", "--as", "@alice_work:ru", "--json"))
    chats = output(await svyaz(bob, "chats", "--json"))["chats"]
    work_history = output(await svyaz(bob, "history", "@alice_work:ru", "--json"))["messages"]

    assert personal["chat"] == CHAT
    assert by_as["chat"] == "dm/@alice_work:ru/@bob:ru" and by_as["seq"] == 2
    assert sorted((c["peer"], c["unread"]) for c in chats) == [("@alice:ru", 1), ("@alice_work:ru", 2)]
    assert [(m["sender"], m["text"]) for m in work_history] == [("@alice_work:ru", "from work"),
                                                                ("@alice_work:ru", "work again")]
    listed = output(await svyaz(phone, "account", "list", "--json"))
    assert [(a["account"], a["current"]) for a in listed] == [("@alice:ru", True), ("@alice_work:ru", False)]


async def test_bad_input_is_a_clear_error_and_stores_nothing(node, tmp_path):
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    await register(node, alice, "@alice:ru")
    await register(node, bob, "@bob:ru")

    too_long = await svyaz(alice, "send", "@bob:ru", "-", stdin="я" * 4097, check=False)
    unknown = await svyaz(alice, "send", "@nobody:ru", "hello?", check=False)
    not_a_chat = await svyaz(alice, "history", "bob", check=False)
    nothing_to_read = await svyaz(alice, "read", "@bob:ru", check=False)

    for result, says in ((too_long, b"the limit is 4096"), (unknown, b"no account @nobody:ru"),
                         (not_a_chat, b"neither a chat id nor an account"), (nothing_to_read, b"nothing to read")):
        assert result.returncode == 1, result.stderr.decode()
        assert result.stderr.startswith(b"error:") and says in result.stderr, result.stderr.decode()
        assert b"Traceback" not in result.stderr
    assert node.database("private")["messages"].count_documents({}) == 0
    assert output(await svyaz(bob, "chats", "--json"))["chats"] == []


async def test_events_come_once_and_the_sender_hears_of_delivery(node):
    await until_live(node)
    alice_tokens = await register_and_login(node, "@alice:ru")
    bob_tokens = await register_and_login(node, "@bob:ru")
    async with open_node_client(node.url, access_token=alice_tokens["access_token"]) as a, \
            open_node_client(node.url, access_token=bob_tokens["access_token"]) as b, \
            open_node_client(node.url, access_token=bob_tokens["access_token"]) as b_raw:
        alice, bob = Messenger(a), Messenger(b)
        for messenger in (alice, bob, Messenger(b_raw)):
            await messenger.whoami()  # served: live events reach the connection from now on
        bob_saw: list[dict] = []
        alice_saw: list[dict] = []

        async def collect(messenger: Messenger, into: list[dict], enough) -> None:
            async with aclosing(messenger.events()) as events:
                async for event in events:
                    into.append(event)
                    if enough(into):
                        return

        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(collect, bob, bob_saw, lambda seen: len(seen) == 2)
                nursery.start_soon(collect, alice, alice_saw,
                                   lambda seen: [e["seq"] for e in seen if e["kind"] == "receipt.delivered"] == [1, 2])
                first = await alice.send("@bob:ru", "once")
                again = await alice.send("@bob:ru", "once", client_id=first["client_id"])  # published again
                await alice.send("@bob:ru", "twice")
            raw = []
            while len([f for f in raw if f.get("kind") == "message.created"]) < 3:
                raw.append(await b_raw.pushes.receive())

    assert again["seq"] == first["seq"] == 1
    assert [f["seq"] for f in raw if f.get("kind") == "message.created"] == [1, 1, 2]  # the node did repeat it
    assert [(e["kind"], e["seq"]) for e in bob_saw] == [("message.created", 1), ("message.created", 2)]
    receipts = [e for e in alice_saw if e["kind"] == "receipt.delivered"]
    assert [(e["actor"], e["seq"]) for e in receipts] == [("@bob:ru", 1), ("@bob:ru", 2)]
    keys = [(e["chat"], e["seq"], e["kind"]) for e in alice_saw]
    assert len(keys) == len(set(keys))


async def test_a_send_that_cannot_connect_is_retried_with_the_same_client_id(node):
    alice_tokens = await register_and_login(node, "@alice:ru")
    await register_and_login(node, "@bob:ru")
    urls = iter(["ws://127.0.0.1:9/", node.url, node.url])  # nothing listens on port 9

    def connect():
        return open_node_client(next(urls), access_token=alice_tokens["access_token"], connect_timeout_s=2)

    with trio.fail_after(20):
        sent = await send_reliably(connect, "@bob:ru", "through a flaky network", retry_delay_s=0.01)
        resent = await send_reliably(connect, "@bob:ru", "through a flaky network", client_id=sent["client_id"])

    assert (resent["seq"], resent["client_id"]) == (sent["seq"], sent["client_id"])
    assert node.database("private")["messages"].count_documents({}) == 1


def test_the_client_names_private_chats_as_the_node_does():
    for one, other in (("@bob:ru", "@alice:ru"), ("@alice_work:ru", "@alice:ru"), ("@z:kz", "@a:by")):
        assert private_chat_id(one, other) == ids.private_chat_id(one, other)
