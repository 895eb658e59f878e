"""Private chats between residents of different regions, through three real nodes, their own
Kafka clusters and FerretDBs, and the stack's MirrorMaker 2."""

from __future__ import annotations

import inspect
import time
import uuid

import pytest
import trio
from confluent_kafka import Consumer, TopicPartition

from svyaz.client.connection import RemoteError, open_node_client
from tests.integration.access.test_attack_script import register_and_login

pytestmark = pytest.mark.usefixtures("stack")

# The first record of a test's new outbox topic waits for MirrorMaker 2 to find the topic.
CROSSING_S = 60.0


def client_id() -> str:
    return uuid.uuid4().hex


async def next_event(client, kind: str, *, actor: str | None = None, bound_s: float = CROSSING_S) -> dict:
    """The next `kind` event pushed to `client` (caused by `actor`, if given: a sender's own
    devices are told of its messages too)."""
    with trio.fail_after(bound_s):
        async for frame in client.pushes:
            if frame.get("type") == "event" and frame.get("kind") == kind and actor in (None, frame.get("actor")):
                return frame
    raise AssertionError("connection closed before the event came")


async def until(condition, bound_s: float = CROSSING_S) -> None:
    """Until `condition()` (a bool, or an awaitable of one) holds."""
    with trio.fail_after(bound_s):
        while True:
            outcome = condition()
            if inspect.isawaitable(outcome):
                outcome = await outcome
            if outcome:
                return
            await trio.sleep(0.1)


def stored_senders(node, chat: str) -> list[str]:
    """Who sent the messages `chat` holds on `node`, in its order (the text is sealed at rest)."""
    return [doc["sender"] for doc in node.database("private")["messages"].find({"chat": chat}).sort("seq", 1)]


async def test_alice_in_russia_and_bob_in_kazakhstan_talk_each_on_their_own_node(federation):
    ru, kz = federation["ru"], federation["kz"]
    alice = await register_and_login(ru, "@alice:ru")
    bob = await register_and_login(kz, "@bob:kz")
    chat = "dm/@alice:ru/@bob:kz"
    async with open_node_client(ru.url, access_token=alice["access_token"]) as a, \
            open_node_client(kz.url, access_token=bob["access_token"]) as b:
        sent = await a.call("message.send", to="@bob:kz", text="Привет из Москвы!", client_id=client_id())
        arrived = await next_event(b, "message.created")
        answer = await b.call("message.send", to="@alice:ru", text="Сәлем из Алматы!", client_id=client_id())
        answered = await next_event(a, "message.created", actor="@bob:kz")
        await b.call("message.read", chat=chat, seq=answer["seq"])
        receipt = await next_event(a, "receipt.read", actor="@bob:kz")
        on_kz = await b.call("message.history", chat=chat)
        bobs_list = (await b.call("chat.list"))["chats"]

    assert sent["chat"] == arrived["chat"] == chat
    assert (arrived["actor"], arrived["message"]["text"]) == ("@alice:ru", "Привет из Москвы!")
    assert (answered["actor"], answered["message"]["text"]) == ("@bob:kz", "Сәлем из Алматы!")
    assert (receipt["actor"], receipt["seq"]) == ("@bob:kz", 2)
    assert [m["text"] for m in on_kz["messages"]] == ["Привет из Москвы!", "Сәлем из Алматы!"]
    assert [(c["peer"], c["unread"]) for c in bobs_list] == [("@alice:ru", 0)]
    # Stored once on each participant's home node, and nowhere else.
    assert stored_senders(ru, chat) == stored_senders(kz, chat) == ["@alice:ru", "@bob:kz"]
    assert federation["by"].database("private")["messages"].count_documents({}) == 0


async def test_edits_and_deletions_reach_the_other_node(federation):
    ru, by = federation["ru"], federation["by"]
    alice = await register_and_login(ru, "@alice:ru")
    dasha = await register_and_login(by, "@dasha:by")
    async with open_node_client(ru.url, access_token=alice["access_token"]) as a, \
            open_node_client(by.url, access_token=dasha["access_token"]) as d:
        sent = await a.call("message.send", to="@dasha:by", text="встреча в 10", client_id=client_id())
        await next_event(d, "message.created")
        await a.call("message.edit", chat=sent["chat"], seq=sent["seq"], text="встреча в 11")
        edited = await next_event(d, "message.edited")
        await a.call("message.delete", chat=sent["chat"], seq=sent["seq"], for_everyone=True)
        deleted = await next_event(d, "message.deleted")
        history = await d.call("message.history", chat=sent["chat"])

    assert edited["message"]["text"] == "встреча в 11"
    assert deleted["seq"] == 1
    assert history["messages"][0].get("deleted") is True and history["messages"][0]["text"] == ""


async def test_a_block_made_in_kazakhstan_is_enforced_by_the_senders_node_in_russia(federation):
    ru, kz = federation["ru"], federation["kz"]
    alice = await register_and_login(ru, "@alice:ru")
    bob = await register_and_login(kz, "@bob:kz")
    async with open_node_client(ru.url, access_token=alice["access_token"]) as a, \
            open_node_client(kz.url, access_token=bob["access_token"]) as b:
        await b.call("block.add", account="@alice:ru")

        async def refused() -> bool:
            try:
                await a.call("message.send", to="@bob:kz", text="можно?", client_id=client_id())
            except RemoteError as err:
                return err.code == "blocked"
            return False

        await until(refused)
    # What got through before ru heard of the block never reached Bob's node.
    assert stored_senders(kz, "dm/@alice:ru/@bob:kz") == []


async def test_a_chat_between_two_russians_never_reaches_belarus_or_kazakhstan(federation, test_id):
    ru = federation["ru"]
    alice = await register_and_login(ru, "@alice:ru")
    boris = await register_and_login(ru, "@boris:ru")
    secret = f"только между нами {uuid.uuid4().hex}"
    async with open_node_client(ru.url, access_token=alice["access_token"]) as a, \
            open_node_client(ru.url, access_token=boris["access_token"]) as b:
        await a.call("message.send", to="@boris:ru", text=secret, client_id=client_id())
        await next_event(b, "message.created")
        # A cross-border message sent after it: once it has arrived, anything sent before would have too.
        await register_and_login(federation["kz"], "@bob:kz")
        await a.call("message.send", to="@bob:kz", text="marker", client_id=client_id())
    await until(lambda: stored_senders(federation["kz"], "dm/@alice:ru/@bob:kz") == ["@alice:ru"])

    for region in ("by", "kz"):
        node = federation[region]
        for needle in (secret, "@boris:ru"):
            assert _records_containing(node.config.kafka.bootstrap_servers, test_id, needle) == []
        with node.database("private").client as client:
            for name in client.list_database_names():
                if name.startswith(test_id):
                    for collection in client[name].list_collection_names():
                        for doc in client[name][collection].find():
                            assert secret not in str(doc), f"{region} {name}.{collection} holds the ru-only text"
                            assert "@boris:ru" not in str(doc), f"{region} {name}.{collection} knows of Boris"


def _records_containing(bootstrap: str, test_id: str, needle: str) -> list[str]:
    """Every record of every topic of this test on a cluster whose value contains `needle`."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{test_id}-residency-{uuid.uuid4().hex}",
                         "enable.auto.commit": False})
    try:
        metadata = consumer.list_topics(timeout=10).topics
        ends = {}
        for topic in (t for t in metadata if test_id in t):
            for partition in metadata[topic].partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
                if high > low:
                    ends[(topic, partition)] = (low, high)
        consumer.assign([TopicPartition(topic, partition, low) for (topic, partition), (low, _) in ends.items()])
        found, remaining = [], set(ends)
        deadline = time.monotonic() + 30
        while remaining:
            assert time.monotonic() < deadline, f"could not read {sorted(remaining)} to their end"
            record = consumer.poll(1)
            if record is None or record.error() is not None:
                continue
            key = (record.topic(), record.partition())
            if needle.encode() in (record.value() or b""):
                found.append(f"{key[0]}/{key[1]}/{record.offset()}")
            if record.offset() + 1 >= ends[key][1]:
                remaining.discard(key)
        return found
    finally:
        consumer.close()


async def test_an_account_abroad_is_looked_up_on_its_home_node(federation):
    ru, kz = federation["ru"], federation["kz"]
    alice = await register_and_login(ru, "@alice:ru")
    bob = await register_and_login(kz, "@bob:kz")
    async with open_node_client(kz.url, access_token=bob["access_token"]) as b:
        await b.call("account.profile.update", display_name="Бауыржан")
    async with open_node_client(ru.url, access_token=alice["access_token"]) as a:
        found = await a.call("directory.lookup", account="@bob:kz")
        missing = await a.call("directory.lookup", account="@nobody:kz")
        with pytest.raises(RemoteError) as refused:
            await a.call("message.send", to="@nobody:kz", text="есть кто?", client_id=client_id())
        here = await a.call("directory.lookup", account="@alice:ru")

    assert found == {"account": "@bob:kz", "exists": True, "display_name": "Бауыржан"}
    assert missing == {"account": "@nobody:kz", "exists": False, "display_name": ""}
    assert refused.value.code == "unknown_account"
    assert here["exists"] is True
    assert stored_senders(ru, "dm/@alice:ru/@nobody:kz") == []
