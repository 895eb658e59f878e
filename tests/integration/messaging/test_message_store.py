"""The message store on the real FerretDB: exactly one copy per client id, however a resend
arrives (svyaz/messaging/store.py)."""

from __future__ import annotations

import pytest
import trio
from pymongo import MongoClient

from svyaz.messaging.model import Message
from svyaz.messaging.ports import Inserted
from svyaz.messaging.store import MongoMessageStore

CHAT = "dm/@alice:ru/@bob:ru"


def message(seq: int, sender: str = "@alice:ru", client_id: str = "client-01") -> Message:
    return Message(chat=CHAT, seq=seq, sender=sender, client_id=client_id, text=f"text {client_id}", sent_at=1.0)


@pytest.fixture
async def store(stack, test_id):
    client = MongoClient(stack.mongo("ru"))
    database = client[f"{test_id}_private"]
    messages = MongoMessageStore(database, trio.CapacityLimiter(2))
    await trio.to_thread.run_sync(messages.ensure_indexes)
    yield messages, database
    client.drop_database(database.name)
    client.close()


async def test_a_resend_at_a_later_seq_is_answered_with_the_first_copy(store):
    messages, database = store
    assert await messages.insert(message(1)) == Inserted(stored=True)
    resent = await messages.insert(message(2))
    assert resent == Inserted(existing=message(1))
    assert database["messages"].count_documents({}) == 1 and await messages.head(CHAT) == 1


async def test_a_resend_finds_a_first_copy_whose_writer_stopped_before_recording_its_client_id(store):
    messages, database = store
    await messages.insert(message(1))
    database["client_ids"].delete_many({})         # as if the writer died between its two inserts
    assert await messages.insert(message(3)) == Inserted(existing=message(1))
    assert database["messages"].count_documents({}) == 1


async def test_a_seq_held_by_another_message_is_reported_taken(store):
    messages, _ = store
    await messages.insert(message(1, "@bob:ru", "client-bob"))
    assert await messages.insert(message(1)) == Inserted(seq_taken=True)
    assert await messages.insert(message(2)) == Inserted(stored=True)
