"""Applying events to the chat-list store (svyaz/messaging/chatlist_writer.py): the writer's direct
path and the projector's Kafka path call the same `project`, and a compare-and-set on the entry's
version keeps either from undoing the other."""

from __future__ import annotations

import logging
from dataclasses import replace
from functools import partial

import pytest
import trio

from svyaz.messaging import events
from svyaz.messaging.chatlist import ChatListEntry, apply
from svyaz.messaging.chatlist_writer import project
from svyaz.messaging.errors import StoreUnavailable
from svyaz.messaging.events import Event

from .fakes import BrokenChatList, InterleavingChatList, MemoryChatList

ALICE, BOB = "@alice:ru", "@bob:ru"
CHAT = "dm/@alice:ru/@bob:ru"


def other(account: str) -> str:
    return BOB if account == ALICE else ALICE


def created(seq: int, sender: str, text: str | None = None) -> Event:
    return Event(kind=events.MESSAGE_CREATED, chat=CHAT, actor=sender, recipients=(other(sender), sender), seq=seq,
                 at=100.0 + seq, data={"text": text or f"message {seq}"}, id=f"created-{seq}")


def read(reader: str, seq: int) -> Event:
    return Event(kind=events.RECEIPT_READ, chat=CHAT, actor=reader, recipients=(other(reader), reader), seq=seq,
                 at=900.0)


def view(store: MemoryChatList, account: str) -> ChatListEntry | None:
    """What a reader of the list sees (everything but the version)."""
    entry = store.entry(account, CHAT)
    return None if entry is None else replace(entry, version=0)


async def test_a_new_message_makes_an_entry_for_each_participant():
    store = MemoryChatList()
    await project(store, created(1, ALICE, "hi Bob"), region="ru")
    alice, bob = store.entry(ALICE, CHAT), store.entry(BOB, CHAT)
    assert (alice.peer, alice.last_seq, alice.read_seq, alice.version) == (BOB, 1, 1, 1)
    assert (bob.peer, bob.preview, bob.preview_sender, bob.unread, bob.version) == (ALICE, "hi Bob", ALICE, 1, 1)


async def test_projecting_an_event_again_writes_nothing():
    store = MemoryChatList()
    await project(store, created(1, ALICE), region="ru")
    before, puts = dict(store.entries), store.puts
    await project(store, created(1, ALICE), region="ru")
    assert store.entries == before
    assert store.puts == puts


async def test_replaying_a_whole_chat_changes_nothing():
    history = [created(1, ALICE), created(2, BOB), read(ALICE, 2), created(3, BOB)]
    store = MemoryChatList()
    for event in history:
        await project(store, event, region="ru")
    before = dict(store.entries)
    for event in history:
        await project(store, event, region="ru")
    assert store.entries == before


async def test_a_read_receipt_writes_only_the_readers_entry():
    store = MemoryChatList()
    await project(store, created(1, ALICE), region="ru")
    alice = store.entry(ALICE, CHAT)
    await project(store, read(BOB, 1), region="ru")
    assert store.entry(ALICE, CHAT) == alice
    assert (store.entry(BOB, CHAT).read_seq, store.entry(BOB, CHAT).unread) == (1, 0)


@pytest.mark.parametrize("event", [
    Event(kind=events.TYPING, chat=CHAT, actor=ALICE, recipients=(BOB,)),
    Event(kind=events.RECEIPT_DELIVERED, chat=CHAT, actor=BOB, recipients=(ALICE, BOB), seq=1),
    Event(kind=events.MESSAGE_CREATED, chat="g/ru/0123456789abcdef", actor=ALICE, recipients=(ALICE,),
          audience="g/ru/0123456789abcdef", seq=1, data={"text": "to the group"}),
], ids=lambda event: f"{event.kind}:{event.chat[:2]}")
async def test_events_without_entries_never_touch_the_store(event):
    store = BrokenChatList()
    await project(store, event, region="ru")
    assert store.calls == 0


async def test_a_store_failure_reaches_the_caller():
    # The direct path logs it; the projector retries (test_projector.py).
    with pytest.raises(StoreUnavailable):
        await project(BrokenChatList(), created(1, ALICE), region="ru")


# --- the two paths at once ------------------------------------------------------------------------

async def test_both_paths_applying_the_same_event_at_once_converge():
    alone = MemoryChatList()
    await project(alone, created(1, ALICE), region="ru")

    store = InterleavingChatList()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(partial(project, store, created(1, ALICE), region="ru"))   # the writer, directly
        nursery.start_soon(partial(project, store, created(1, ALICE), region="ru"))   # the projector, from Kafka
    assert store.refused_puts >= 1                              # one of them lost a compare-and-set
    for account in (ALICE, BOB):
        assert store.entry(account, CHAT) == alone.entry(account, CHAT)


async def test_both_paths_applying_different_events_at_once_lose_neither():
    store = InterleavingChatList()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(partial(project, store, created(1, ALICE, "first"), region="ru"))
        nursery.start_soon(partial(project, store, created(2, BOB, "second"), region="ru"))
    alice, bob = store.entry(ALICE, CHAT), store.entry(BOB, CHAT)
    assert (alice.last_seq, alice.preview, alice.read_seq, alice.unread) == (2, "second", 1, 1)
    assert (bob.last_seq, bob.preview, bob.read_seq, bob.unread) == (2, "second", 2, 0)


@pytest.mark.parametrize("order", ["writer first", "projector first"])
async def test_both_paths_one_after_the_other_converge(order):
    sequence = [created(1, ALICE), created(2, BOB), read(ALICE, 2)]
    store = MemoryChatList()
    if order == "writer first":
        paths = [sequence, sequence]
    else:
        paths = [sequence[:1], sequence, sequence[1:]]
    for path in paths:
        for event in path:
            await project(store, event, region="ru")
    assert view(store, ALICE) == ChatListEntry(account=ALICE, chat=CHAT, peer=BOB, last_seq=2, last_at=102.0,
                                               preview="message 2", preview_sender=BOB, preview_at=102.0,
                                               read_seq=2)


class RacedOnce(MemoryChatList):
    """Another writer updates the entry between this writer's read and its first put."""

    def __init__(self, rival: Event) -> None:
        super().__init__()
        self.rival: Event | None = rival
        self.attempts: list[tuple[str, int, bool]] = []

    async def put(self, entry: ChatListEntry) -> bool:
        if self.rival is not None and entry.account == ALICE:
            rival, self.rival = self.rival, None
            stored = self.entries.get((entry.account, entry.chat)) or ChatListEntry(account=ALICE, chat=CHAT, peer=BOB)
            await super().put(apply(stored, rival))
        accepted = await super().put(entry)
        self.attempts.append((entry.account, entry.version, accepted))
        return accepted


async def test_a_compare_and_set_loser_reads_again_and_retries():
    store = RacedOnce(rival=created(2, BOB, "the rival's"))
    await project(store, created(1, ALICE, "mine"), region="ru")
    alice_attempts = [attempt for attempt in store.attempts if attempt[0] == ALICE]
    assert alice_attempts == [(ALICE, 0, False), (ALICE, 1, True)]
    alice = store.entry(ALICE, CHAT)
    # Both writes are in the entry: the rival's newer message, and Alice's own one read.
    assert (alice.last_seq, alice.preview, alice.read_seq, alice.version) == (2, "the rival's", 1, 2)


class AlwaysRaced(MemoryChatList):
    """Every put finds that someone else wrote the entry meanwhile."""

    async def put(self, entry: ChatListEntry) -> bool:
        self.puts += 1
        key = (entry.account, entry.chat)
        stored = self.entries.get(key) or replace(entry, last_seq=0, preview="", read_seq=0, version=0)
        self.entries[key] = replace(stored, version=stored.version + 1)
        return False


async def test_a_writer_that_keeps_losing_gives_up_quietly_after_a_few_attempts(caplog):
    store = AlwaysRaced()
    with caplog.at_level(logging.WARNING, logger="svyaz.messaging.chatlist"):
        await project(store, created(1, ALICE), region="ru")
    assert store.puts == 2 * 4                       # four attempts for each of the two entries
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.WARNING]
