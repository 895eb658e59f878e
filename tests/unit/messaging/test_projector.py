"""The chat-list projector (svyaz/messaging/projector.py) over an in-memory stream of records: it
applies what the chat list projects, marks every record done only after that, and waits out a
store that does not answer."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import trio

from svyaz.messaging import events
from svyaz.messaging.errors import StoreUnavailable
from svyaz.messaging.events import Event
from svyaz.messaging.projector import serve_projector

from .fakes import MemoryChatList

ALICE, BOB = "@alice:ru", "@bob:ru"
CHAT = "dm/@alice:ru/@bob:ru"


@dataclass(frozen=True)
class Record:
    event: Event
    offset: int


class ListStream:
    """The `EventStream` surface the projector uses: async iteration and `done`."""

    def __init__(self, events_: list[Event], chat_list: MemoryChatList | None = None) -> None:
        self.records = [Record(event, offset) for offset, event in enumerate(events_)]
        self.done_offsets: list[int] = []
        # What the chat list held when each record was marked done.
        self._chat_list = chat_list
        self.seen_at_done: list[dict] = []

    def __aiter__(self):
        return self._iterate()

    async def _iterate(self):
        for record in self.records:
            await trio.lowlevel.checkpoint()
            yield record

    def done(self, record: Record) -> None:
        self.done_offsets.append(record.offset)
        if self._chat_list is not None:
            self.seen_at_done.append(dict(self._chat_list.entries))


def created(seq: int, sender: str, chat: str = CHAT) -> Event:
    peer = BOB if sender == ALICE else ALICE
    return Event(kind=events.MESSAGE_CREATED, chat=chat, actor=sender, recipients=(peer, sender), seq=seq,
                 at=100.0 + seq, data={"text": f"message {seq}"})


async def test_the_projector_applies_projected_events_and_marks_every_record_done():
    chat_list = MemoryChatList()
    stream = ListStream([
        created(1, ALICE),
        Event(kind=events.TYPING, chat=CHAT, actor=BOB, recipients=(ALICE,)),
        created(2, BOB),
        Event(kind=events.RECEIPT_DELIVERED, chat=CHAT, actor=ALICE, recipients=(ALICE, BOB), seq=2),
        Event(kind=events.RECEIPT_READ, chat=CHAT, actor=ALICE, recipients=(ALICE, BOB), seq=2),
    ], chat_list)
    await serve_projector(stream, chat_list, region="ru")
    assert stream.done_offsets == [0, 1, 2, 3, 4]
    alice = chat_list.entry(ALICE, CHAT)
    assert (alice.last_seq, alice.read_seq, alice.unread) == (2, 2, 0)
    assert chat_list.entry(BOB, CHAT).last_seq == 2


async def test_a_record_is_marked_done_only_after_it_is_applied():
    chat_list = MemoryChatList()
    stream = ListStream([created(1, ALICE)], chat_list)
    await serve_projector(stream, chat_list, region="ru")
    assert (ALICE, CHAT) in stream.seen_at_done[0] and (BOB, CHAT) in stream.seen_at_done[0]


class FlakyChatList(MemoryChatList):
    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def get(self, account, chat):
        if self.failures:
            self.failures -= 1
            raise StoreUnavailable("the chat list store did not answer")
        return await super().get(account, chat)


async def test_the_projector_waits_out_an_unavailable_store(autojump_clock):
    chat_list = FlakyChatList(failures=10)   # five attempts: each asks for both participants' entries
    stream = ListStream([created(1, ALICE)], chat_list)
    started = trio.current_time()
    with trio.fail_after(60):
        await serve_projector(stream, chat_list, region="ru")
    assert stream.done_offsets == [0]
    assert chat_list.entry(BOB, CHAT).last_seq == 1
    # Backing off: 0.1 + 0.2 + 0.4 + 0.8 + 1.6 seconds.
    assert trio.current_time() - started == pytest.approx(3.1)


async def test_a_record_the_chat_list_cannot_take_is_skipped_not_fatal():
    chat_list = MemoryChatList()
    stream = ListStream([created(1, ALICE, chat="dm/not-a-chat"), created(1, ALICE)], chat_list)
    await serve_projector(stream, chat_list, region="ru")
    assert stream.done_offsets == [0, 1]
    assert chat_list.entry(BOB, CHAT).last_seq == 1
