"""Message content sealed at rest with the node's content key (Kuznyechik AEAD, real OpenSSL
provider), on the real FerretDB through a real node: readable through the API, absent from the
store in clear; rotation, rewrap and retire with the real `svyaz node content-key` CLI; a tampered
envelope is a clear `store_corrupt` error; documents written in clear before still read."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import pytest
import trio

from svyaz.client.connection import RemoteError, open_node_client
from svyaz.messaging.at_rest import MESSAGE_CONTENT, REPORT_EVIDENCE, AtRest
from svyaz.messaging.chatlist import ChatListEntry
from svyaz.messaging.ids import message_id
from svyaz.messaging.safety_store import MongoReports
from svyaz.messaging.store import MongoChatListStore, _message_doc
from svyaz.messaging.model import Message
from svyaz.node.content_keys import ContentKeyRing, key_dir, rewrap_store
from tests.integration.access.test_attack_script import register_and_login

pytestmark = pytest.mark.usefixtures("stack")

SVYAZ = str(Path(sys.executable).with_name("svyaz"))
CHAT = "dm/@alice:ru/@bob:ru"


def cid() -> str:
    return uuid.uuid4().hex


def every_document(node) -> str:
    """Everything the test's databases hold, as one searchable text (bytes values shown as repr)."""
    client = node.database("core").client
    blob = []
    for name in client.list_database_names():
        if name.startswith(node.config.store.database_prefix):
            for collection in client[name].list_collection_names():
                blob.extend(repr(doc) for doc in client[name][collection].find())
    return "\n".join(blob)


def stored_report(node, report_id: str) -> dict:
    """A report document as stored, its sealed note and message copies opened with the node's key."""
    doc = node.database("moderation")["reports"].find_one({"_id": report_id})
    return AtRest(ring(node)).opened(REPORT_EVIDENCE, doc)


def stored_texts(node, bulkhead: str) -> list[str]:
    """The texts of a bulkhead's stored messages in `_id` order, opened with the node's key."""
    at_rest = AtRest(ring(node))
    docs = node.database(bulkhead)["messages"].find({}).sort("_id")
    return [at_rest.opened(MESSAGE_CONTENT, doc)["text"] for doc in docs]


def ring(node) -> ContentKeyRing:
    return ContentKeyRing.existing(key_dir(node.config.data_path))


async def content_key(node, *args: str, check: bool = True) -> trio.CompletedProcess:
    """The real CLI, in its own process, on the node's data directory and store."""
    command = [SVYAZ, "node", "content-key", *args, "--data-dir", str(node.config.data_path)]
    if args[0] in ("rewrap", "retire"):
        command += ["--store-url", node.config.store.url, "--prefix", node.config.store.database_prefix]
    return await trio.run_process(command, capture_stdout=True, capture_stderr=True, check=check)


def sealed_keys(node, bulkhead: str = "private") -> list[str | None]:
    docs = node.database(bulkhead)["messages"].find({}).sort("_id")
    return [doc["content_sealed"]["k"] if "content_sealed" in doc else None for doc in docs]


async def test_content_reads_through_the_api_and_the_store_holds_none_of_it_in_clear(node):
    tokens = {name: await register_and_login(node, f"@{name}:ru") for name in ("alice", "bob")}
    async with open_node_client(node.url, access_token=tokens["alice"]["access_token"]) as a, \
            open_node_client(node.url, access_token=tokens["bob"]["access_token"]) as b:
        sent = await a.call("message.send", to="@bob:ru", text="Тайная встреча у фонтана, "
                            "https://maps.example/fountain", client_id=cid())
        group = (await a.call("group.create", title="Hikers", members=["@bob:ru"]))["chat"]
        await a.call("message.send", chat=group, text="marmalade-zeppelin at dawn", client_id=cid())
        channel = (await a.call("channel.create", title="Bulletin"))["chat"]
        post = await a.call("channel.post", channel=channel, text="periwinkle post https://news.example/p1",
                            client_id=cid())
        await b.call("channel.comment", thread=f"{channel}/p/{post['seq']}", text="quokka comment", client_id=cid())
        await b.call("report.create", account="@alice:ru", reason="spam", note="obsidian note",
                     messages=[{"chat": sent["chat"], "seq": sent["seq"]}])
        history = await b.call("message.history", chat=CHAT)
        group_history = await b.call("message.history", chat=group)
        posts = await b.call("message.history", chat=channel)
        with trio.fail_after(10):   # the projector writes the chat list too
            while not (chats := (await b.call("chat.list"))["chats"]) or not chats[0]["preview"]:
                await trio.sleep(0.05)

    assert [m["text"] for m in history["messages"]] == [
        "Тайная встреча у фонтана, https://maps.example/fountain"]
    assert [m["text"] for m in group_history["messages"]] == ["marmalade-zeppelin at dawn"]
    assert posts["messages"][0]["links"] == ["https://news.example/p1"]
    assert {c["chat"]: c["preview"] for c in chats}[CHAT].startswith("Тайная встреча")
    stored = every_document(node)
    for secret in ("Тайная", "фонтан", "maps.example", "marmalade", "periwinkle", "news.example", "quokka",
                   "obsidian"):
        assert secret not in stored, secret
    current = ring(node).current_key_id()
    assert sealed_keys(node) == [current] and set(sealed_keys(node, "channels")) == {current}
    [entry] = node.database("moderation")["reports"].find({})
    assert "note" not in entry and "messages" not in entry and entry["evidence_sealed"]["k"] == current
    # The moderators' adapter opens what the reporter saw.
    reports = MongoReports(node.database("moderation"), trio.CapacityLimiter(1), at_rest=AtRest(ring(node)))
    [report] = await reports.open(limit=5)
    assert report.note == "obsidian note" and report.messages[0]["text"].startswith("Тайная встреча")


async def test_rotate_then_rewrap_then_retire_with_the_cli(node):
    tokens = {name: await register_and_login(node, f"@{name}:ru") for name in ("alice", "bob")}
    old = ring(node).current_key_id()
    async with open_node_client(node.url, access_token=tokens["alice"]["access_token"]) as a:
        await a.call("message.send", to="@bob:ru", text="before the rotation", client_id=cid())
        rotated = json.loads((await content_key(node, "rotate", "--json")).stdout)
        # The node reads the ring on its next write: no restart, no signal.
        await a.call("message.send", to="@bob:ru", text="after the rotation", client_id=cid())
        assert sealed_keys(node) == [old, rotated["key_id"]]
        refused = await content_key(node, "retire", old, check=False)
        rewrapped = json.loads((await content_key(node, "rewrap", "--json")).stdout)
        retired = json.loads((await content_key(node, "retire", old, "--json")).stdout)
        history = await a.call("message.history", chat=CHAT)
        chats = (await a.call("chat.list"))["chats"]

    assert rotated["old_key_id"] == old and rotated["key_id"] != old
    assert refused.returncode == 1 and f"content key {old} still seals stored documents".encode() in refused.stderr
    named = f"{node.config.store.database_prefix}_private.messages {message_id(CHAT, 1)}"
    assert named.encode() in refused.stderr, refused.stderr.decode()
    # The first message; both chat-list entries were rewritten under the new key by the second send.
    assert rewrapped["totals"]["resealed"] == 1
    assert rewrapped["unreadable"] == []
    assert sealed_keys(node) == [rotated["key_id"]] * 2
    assert old not in every_document(node).replace(rotated["key_id"], "")
    assert retired == {"retired": old, "directory": str(key_dir(node.config.data_path))}
    assert [key.key_id for key in ring(node).list()] == [rotated["key_id"]]
    assert [m["text"] for m in history["messages"]] == ["before the rotation", "after the rotation"]
    assert chats[0]["preview"] == "after the rotation"


async def test_a_tampered_or_moved_envelope_is_a_clear_error_and_the_node_keeps_serving(node):
    tokens = {name: await register_and_login(node, f"@{name}:ru") for name in ("alice", "bob")}
    messages = node.database("private")["messages"]
    async with open_node_client(node.url, access_token=tokens["alice"]["access_token"]) as a:
        for text in ("first words", "second words", "third words"):
            await a.call("message.send", to="@bob:ru", text=text, client_id=cid())
        first = messages.find_one({"_id": message_id(CHAT, 1)})["content_sealed"]
        flipped = bytes([first["c"][0] ^ 1]) + first["c"][1:]
        messages.update_one({"_id": message_id(CHAT, 1)}, {"$set": {"content_sealed.c": flipped}})
        with pytest.raises(RemoteError) as tampered:
            await a.call("message.history", chat=CHAT, before=2)
        # A valid envelope, moved to another document:
        messages.update_one({"_id": message_id(CHAT, 2)}, {"$set": {"content_sealed": first}})
        with pytest.raises(RemoteError) as moved:
            await a.call("message.history", chat=CHAT, after=1, limit=1)
        messages.update_one({"_id": message_id(CHAT, 1)}, {"$set": {"content_sealed.k": "0123456789abcdef"}})
        with pytest.raises(RemoteError) as unknown_key:
            await a.call("message.history", chat=CHAT, before=2)
        untouched = await a.call("message.history", chat=CHAT, after=2)
        still_sends = await a.call("message.send", to="@bob:ru", text="fourth words", client_id=cid())

    for error, doc in ((tampered, 1), (moved, 2), (unknown_key, 1)):
        assert error.value.code == "store_corrupt"
        assert f"stored message {message_id(CHAT, doc)}: its content_sealed does not open" in str(error.value)
        assert "words" not in str(error.value)
    assert "does not authenticate" in str(tampered.value) and "no content key" in str(unknown_key.value)
    assert [m["text"] for m in untouched["messages"]] == ["third words"] and still_sends["seq"] == 4
    # Rewrap names what it cannot open and changes nothing in it. (It opens only what it re-seals:
    # the moved envelope is under the current key, so it is not looked into.)
    rewrapped = await content_key(node, "rewrap", "--json", check=False)
    assert rewrapped.returncode == 1
    assert json.loads(rewrapped.stdout)["unreadable"] == [f"{node.config.store.database_prefix}_private.messages "
                                                          f"{message_id(CHAT, 1)}"]
    assert messages.find_one({"_id": message_id(CHAT, 1)})["content_sealed"]["k"] == "0123456789abcdef"


async def test_a_document_written_in_clear_before_still_reads_and_rewrap_seals_it(node):
    tokens = {name: await register_and_login(node, f"@{name}:ru") for name in ("alice", "bob")}
    legacy = Message(chat=CHAT, seq=1, sender="@alice:ru", client_id=cid(), text="written in 2025 in clear",
                     sent_at=1.0, links=("https://old.example",))
    node.database("private")["messages"].insert_one(_message_doc(legacy))   # as the store wrote before
    plain_entries = MongoChatListStore(node.database("chatlist"), trio.CapacityLimiter(1))
    await plain_entries.put(ChatListEntry(account="@bob:ru", chat=CHAT, peer="@alice:ru", last_seq=1,
                                          preview="written in 2025 in clear"))
    async with open_node_client(node.url, access_token=tokens["bob"]["access_token"]) as b:
        before = await b.call("message.history", chat=CHAT)
        rewrapped = json.loads((await content_key(node, "rewrap", "--json")).stdout)
        after = await b.call("message.history", chat=CHAT)
        chats = (await b.call("chat.list"))["chats"]

    assert before == after and [m["text"] for m in after["messages"]] == ["written in 2025 in clear"]
    assert after["messages"][0]["links"] == ["https://old.example"]
    assert chats[0]["preview"] == "written in 2025 in clear"
    assert rewrapped["totals"]["sealed"] == 2   # the message and the chat-list entry
    assert "2025" not in every_document(node) and "old.example" not in every_document(node)
    assert sealed_keys(node) == [ring(node).current_key_id()]


async def test_an_interrupted_rewrap_resumes_where_it_stopped(stack, test_id, tmp_path):
    from pymongo import MongoClient

    keys = ContentKeyRing.create_if_missing(key_dir(tmp_path))
    client = MongoClient(stack.mongo("ru"))
    try:
        messages = client[f"{test_id}_private"]["messages"]
        messages.insert_many([_message_doc(Message(chat=CHAT, seq=n, sender="@alice:ru", client_id=f"c{n}",
                                                   text=f"plain {n}", sent_at=1.0)) for n in range(1, 8)])

        class Stop(Exception):
            pass

        def stop_after_two(where, done):
            if done.counts:
                raise Stop

        with pytest.raises(Stop):
            await trio.to_thread.run_sync(lambda: rewrap_store(client, test_id, keys, batch=2,
                                                               on_batch=stop_after_two))
        first_pass = sum("content_sealed" in doc for doc in messages.find({}))
        report = await trio.to_thread.run_sync(lambda: rewrap_store(client, test_id, keys, batch=2))
    finally:
        for name in client.list_database_names():
            if name.startswith(test_id):
                client.drop_database(name)
        client.close()

    assert first_pass == 2
    assert report.resumed and report.collections[f"{test_id}_private.messages"] == {"sealed": 5}
    assert not (keys.directory / f"rewrap-{test_id}.json").exists()
    assert MESSAGE_CONTENT.envelope == "content_sealed"
