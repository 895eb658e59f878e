"""The message store's two reads for lawful exports, on the real FerretDB, with content sealed at
rest (svyaz/messaging/store.py: `sent_between`, `chats_written_by`)."""

from __future__ import annotations


import pytest
import trio
from pymongo import MongoClient

from svyaz.messaging.at_rest import AtRest
from svyaz.messaging.model import Message
from svyaz.messaging.store import MongoMessageStore
from svyaz.node.content_keys import ContentKeyRing

CHAT = "dm/@alice:ru/@bob:ru"
OTHER = "dm/@bob:ru/@carol:ru"


def message(chat: str, seq: int, sender: str, at: float) -> Message:
    return Message(chat=chat, seq=seq, sender=sender, client_id=f"client-{seq:04d}", text=f"секрет {seq}", sent_at=at)


@pytest.fixture
async def store(stack, test_id, tmp_path):
    client = MongoClient(stack.mongo("ru"))
    database = client[f"{test_id}_private"]
    ring = ContentKeyRing.create_if_missing(tmp_path / "content-keys")
    messages = MongoMessageStore(database, trio.CapacityLimiter(2), at_rest=AtRest(ring))
    await trio.to_thread.run_sync(messages.ensure_indexes)
    for stored in (message(CHAT, 2, "@bob:ru", 20.0), message(CHAT, 1, "@alice:ru", 10.0),
                   message(CHAT, 3, "@alice:ru", 30.0), message(OTHER, 1, "@carol:ru", 15.0)):
        await messages.insert(stored)
    yield messages, database
    client.drop_database(database.name)
    client.close()


async def test_messages_sent_in_a_half_open_range_come_back_opened_in_seq_order(store):
    messages, database = store

    found = await messages.sent_between(CHAT, 10.0, 30.0)

    assert [(m.seq, m.text) for m in found] == [(1, "секрет 1"), (2, "секрет 2")]  # 30.0 is the range's end
    assert "секрет" not in repr(list(database["messages"].find()))  # sealed in the store


async def test_the_chats_a_sender_wrote_in(store):
    messages, _ = store

    assert await messages.chats_written_by("@alice:ru") == [CHAT]
    assert await messages.chats_written_by("@bob:ru") == [CHAT]
    assert await messages.chats_written_by("@nobody:ru") == []
