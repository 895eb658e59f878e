"""Seed ADR-1: the chat list is written by the writer directly AND by the projector from Kafka.
Each path alone keeps it right; both together agree. Real FerretDB and Kafka, no node."""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager
from functools import partial

import pytest
import trio
from pymongo import MongoClient

from svyaz.messaging.bus import (
    ensure_topic,
    event_topics,
    open_event_publisher,
    open_event_stream,
    private_events_topic,
)
from svyaz.messaging.chatlist_writer import project
from svyaz.messaging.errors import StoreUnavailable
from svyaz.messaging.projector import serve_projector
from svyaz.messaging.service import PrivateChats
from svyaz.messaging.store import MongoChatListStore, MongoMessageStore

pytestmark = pytest.mark.usefixtures("stack")
ALICE, BOB = "@alice:ru", "@bob:ru"
CHAT = "dm/@alice:ru/@bob:ru"


class Everyone:
    async def exists(self, account: str) -> bool:
        return True


class DownChatList:
    """A chat-list store the writer cannot reach: its direct path is stopped."""

    async def get(self, account, chat):
        raise StoreUnavailable("chat list store stopped for this test")

    put = list = get


@asynccontextmanager
async def writer(stack, test_id, *, direct_path: bool):
    limiter = trio.CapacityLimiter(4)
    client = MongoClient(stack.mongo("ru"))
    messages = MongoMessageStore(client[f"{test_id}_private"], limiter)
    chat_list = MongoChatListStore(client[f"{test_id}_chatlist"], limiter)
    topic = private_events_topic(f"{test_id}.")
    await trio.to_thread.run_sync(ensure_topic, stack.kafka("ru"), topic)
    await trio.to_thread.run_sync(messages.ensure_indexes)
    async with open_event_publisher(stack.kafka("ru"), event_topics(f"{test_id}."),
                                    client_id="test-writer") as publisher:
        yield PrivateChats(region="ru", messages=messages, chat_list=chat_list if direct_path else DownChatList(),
                           publisher=publisher, directory=Everyone()), chat_list, topic
    client.close()


async def converse(chats: PrivateChats) -> None:
    for n in range(1, 4):
        await chats.send(ALICE, to=BOB, text=f"from alice {n}", client_id=uuid.uuid4().hex)
    await chats.send(BOB, to=ALICE, text="from bob", client_id=uuid.uuid4().hex)
    await chats.mark(BOB, chat=CHAT, seq=3, kind="read")


async def entries(chat_list: MongoChatListStore) -> dict[str, tuple]:
    listed = {}
    for account in (ALICE, BOB):
        [entry] = await chat_list.list(account, limit=10)
        listed[account] = (entry.peer, entry.last_seq, entry.preview, entry.read_seq, entry.unread)
    return listed


EXPECTED = {ALICE: (BOB, 4, "from bob", 3, 1), BOB: (ALICE, 4, "from bob", 4, 0)}


async def test_the_writers_direct_path_alone_keeps_the_list_right(stack, test_id):
    async with writer(stack, test_id, direct_path=True) as (chats, chat_list, _):
        await converse(chats)  # no projector runs
        assert await entries(chat_list) == EXPECTED


async def test_the_projector_alone_keeps_the_list_right(stack, test_id):
    async with writer(stack, test_id, direct_path=False) as (chats, chat_list, topic):
        await converse(chats)
        async with open_event_stream(stack.kafka("ru"), topic, group_id=f"{test_id}.projector",
                                     client_id="test-projector") as stream, trio.open_nursery() as nursery:
            nursery.start_soon(partial(serve_projector, stream, chat_list, region="ru"))
            with trio.fail_after(20):
                while True:
                    try:
                        if await entries(chat_list) == EXPECTED:
                            break
                    except ValueError:
                        pass  # an entry not projected yet
                    await trio.sleep(0.1)
            nursery.cancel_scope.cancel()


async def test_both_paths_together_agree_and_a_replay_changes_nothing(stack, test_id):
    async with writer(stack, test_id, direct_path=True) as (chats, chat_list, topic):
        await converse(chats)
        direct = await entries(chat_list)
        # The projector replays every event from the start of the topic over the written list.
        async with open_event_stream(stack.kafka("ru"), topic, client_id="test-replay",
                                     from_beginning=True) as stream:
            seen = 0
            with trio.fail_after(20):
                async for record in stream:
                    await project(chat_list, record.event, region="ru")
                    seen += 1
                    if seen == 5:  # four messages and one read receipt
                        break
        assert direct == EXPECTED
        assert await entries(chat_list) == EXPECTED
