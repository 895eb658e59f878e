"""The fakes keep the adapter's rules (svyaz/messaging/store.py), or the service tests prove nothing."""

from __future__ import annotations

from dataclasses import replace

from svyaz.messaging.chatlist import ChatListEntry
from svyaz.messaging.model import Message
from svyaz.messaging.ports import Inserted

from .fakes import MemoryChatList, MemoryMessageStore

CHAT = "dm/@alice:ru/@bob:ru"


def message(seq: int, sender: str = "@alice:ru", client_id: str = "client-01") -> Message:
    return Message(chat=CHAT, seq=seq, sender=sender, client_id=client_id, text="hi", sent_at=1.0)


async def test_an_insert_is_stored_once_per_seq_and_per_client_id():
    store = MemoryMessageStore()
    assert await store.insert(message(1)) == Inserted(stored=True)
    assert await store.insert(message(1)) == Inserted(existing=message(1))                  # the same, again
    assert await store.insert(message(1, "@bob:ru", "client-02")) == Inserted(seq_taken=True)
    assert await store.insert(message(2)) == Inserted(existing=message(1))                  # same client id
    assert await store.insert(message(2, "@bob:ru")) == Inserted(stored=True)               # other sender
    assert [m.seq for m in store.stored(CHAT)] == [1, 2]


async def test_a_resend_finds_the_first_copy_even_when_its_writer_stopped_half_way():
    store = MemoryMessageStore()
    store.plant(message(1))
    assert await store.insert(message(2)) == Inserted(existing=message(1))


async def test_the_head_probes_past_a_lagging_hint_and_never_runs_ahead():
    store = MemoryMessageStore()
    assert await store.head(CHAT) == 0
    await store.insert(message(1))
    store.plant(message(2, "@bob:ru", "client-02"))
    store.plant(message(4, "@bob:ru", "client-04"))                # a hole at 3: the head stops before it
    assert await store.head(CHAT) == 2


async def test_the_chat_list_put_is_a_compare_and_set_on_version():
    store = MemoryChatList()
    entry = ChatListEntry(account="@alice:ru", chat=CHAT)
    assert await store.put(entry) is True
    assert await store.put(entry) is False                          # version 0: there is one already
    stored = await store.get("@alice:ru", CHAT)
    assert stored.version == 1
    assert await store.put(replace(stored, last_seq=1)) is True
    assert await store.put(replace(stored, last_seq=2)) is False    # stale version
    assert (await store.get("@alice:ru", CHAT)).last_seq == 1
