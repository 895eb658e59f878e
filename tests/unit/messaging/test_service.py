"""The private-chat use cases (svyaz/messaging/service.py) over in-memory ports (fakes.py)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import pytest
import trio
import trio.testing

from svyaz.messaging import events
from svyaz.messaging.chatlist_writer import project
from svyaz.messaging.errors import (
    InvalidMessage,
    MessageNotFound,
    NotAParticipant,
    NotPublished,
    NotYourMessage,
    StoreUnavailable,
    UnknownRecipient,
    Unreachable,
)
from svyaz.messaging.ids import private_chat_id
from svyaz.messaging.model import Message
from svyaz.messaging.ports import Inserted
from svyaz.messaging.service import PrivateChats

from .fakes import (
    BrokenChatList,
    Directory,
    MemoryChatList,
    MemoryMessageStore,
    RecordingPublisher,
    TickingClock,
)

ALICE, BOB, CAROL = "@alice:ru", "@bob:ru", "@carol:ru"
DAVE_BY = "@dave:by"
AB = private_chat_id(ALICE, BOB)
AC = private_chat_id(ALICE, CAROL)
BC = private_chat_id(BOB, CAROL)


@dataclass
class World:
    chats: PrivateChats
    messages: MemoryMessageStore
    chat_list: MemoryChatList
    publisher: RecordingPublisher

    def another_process(self) -> PrivateChats:
        """A second writer on the same store (another process of the node): its own locks and heads."""
        return make_chats(self.messages, self.chat_list, self.publisher)


def make_chats(messages, chat_list, publisher) -> PrivateChats:
    return PrivateChats(region="ru", messages=messages, chat_list=chat_list, publisher=publisher,
                        directory=Directory([ALICE, BOB, CAROL, DAVE_BY]), clock=TickingClock())


@pytest.fixture
def world() -> World:
    messages, chat_list, publisher = MemoryMessageStore(), MemoryChatList(), RecordingPublisher()
    return World(make_chats(messages, chat_list, publisher), messages, chat_list, publisher)


_ids = iter(range(10**6))


def client_id() -> str:
    return f"client-{next(_ids):06d}"


async def say(world: World, sender: str, to: str, text: str = "hello", **extra) -> Message:
    return await world.chats.send(sender, to=to, text=text, client_id=client_id(), **extra)


def planted(chat: str, seq: int, sender: str, text: str = "from elsewhere") -> Message:
    return Message(chat=chat, seq=seq, sender=sender, client_id=f"planted-{seq:04d}", text=text, sent_at=1.0)


# --- sequence numbers -----------------------------------------------------------------------------

async def test_sequence_numbers_count_from_one_in_a_chat(world):
    sent = [await say(world, ALICE, BOB), await say(world, BOB, ALICE), await say(world, ALICE, BOB)]
    assert [(m.chat, m.seq) for m in sent] == [(AB, 1), (AB, 2), (AB, 3)]
    assert [m.seq for m in world.messages.stored(AB)] == [1, 2, 3]


async def test_each_chat_has_its_own_sequence(world):
    await say(world, ALICE, BOB)
    await say(world, ALICE, BOB)
    assert (await say(world, ALICE, CAROL)).seq == 1
    assert (await say(world, CAROL, BOB)).seq == 1
    assert (await say(world, BOB, ALICE)).seq == 3


async def test_a_send_stores_the_cleaned_text_and_publishes_it(world):
    message = await world.chats.send(ALICE, to=BOB, text="  cafe\u0301  ", client_id="first-msg")
    assert (message.text, message.sender, message.client_id) == ("caf\u00e9", ALICE, "first-msg")
    assert world.messages.stored(AB) == [message]
    [event] = world.publisher.events
    assert (event.kind, event.chat, event.actor, event.seq) == (events.MESSAGE_CREATED, AB, ALICE, 1)
    assert set(event.recipients) == {ALICE, BOB}
    assert event.data == message.as_wire()


# --- resends --------------------------------------------------------------------------------------

async def test_a_resend_with_the_same_client_id_returns_the_first_copy_and_publishes_again(world):
    first = await world.chats.send(ALICE, to=BOB, text="hello", client_id="resend-01")
    again = await world.chats.send(ALICE, to=BOB, text="hello", client_id="resend-01")
    assert again == first
    assert world.messages.stored(AB) == [first]
    assert [(e.kind, e.seq) for e in world.publisher.events] == [(events.MESSAGE_CREATED, 1)] * 2


async def test_a_resend_returns_the_first_copy_even_with_other_text(world):
    first = await world.chats.send(ALICE, to=BOB, text="hello", client_id="resend-02")
    again = await world.chats.send(ALICE, to=BOB, text="hello?", client_id="resend-02")
    assert again == first


async def test_the_same_client_id_from_the_other_participant_is_another_message(world):
    mine = await world.chats.send(ALICE, to=BOB, text="hi", client_id="same-id-1")
    theirs = await world.chats.send(BOB, to=ALICE, text="hi", client_id="same-id-1")
    assert (mine.seq, theirs.seq) == (1, 2)


async def test_a_resend_after_not_published_returns_the_stored_message(world):
    world.publisher.fail = True
    with pytest.raises(NotPublished):
        await world.chats.send(ALICE, to=BOB, text="did it arrive?", client_id="unacked-1")
    [stored] = world.messages.stored(AB)
    world.publisher.fail = False
    again = await world.chats.send(ALICE, to=BOB, text="did it arrive?", client_id="unacked-1")
    assert again == stored
    assert world.messages.stored(AB) == [stored]
    assert [e.seq for e in world.publisher.events] == [1]


async def test_a_resend_from_another_process_after_not_published_returns_the_stored_message(world):
    world.publisher.fail = True
    with pytest.raises(NotPublished):
        await world.chats.send(ALICE, to=BOB, text="hello", client_id="unacked-2")
    world.publisher.fail = False
    again = await world.another_process().send(ALICE, to=BOB, text="hello", client_id="unacked-2")
    assert again.seq == 1
    assert len(world.messages.stored(AB)) == 1


async def test_a_resend_finds_the_copy_whose_writer_stopped_before_recording_its_client_id(world):
    half_done = Message(chat=AB, seq=1, sender=ALICE, client_id="half-done", text="hello", sent_at=5.0)
    world.messages.plant(half_done)
    again = await world.chats.send(ALICE, to=BOB, text="hello", client_id="half-done")
    assert again == half_done
    assert world.messages.stored(AB) == [half_done]
    assert (await say(world, BOB, ALICE)).seq == 2


# --- races between processes ----------------------------------------------------------------------

async def test_a_seq_taken_by_another_process_moves_the_writer_to_the_next_one(world):
    await say(world, ALICE, BOB)                          # this process now expects seq 2 next
    world.messages.plant(planted(AB, 2, BOB))             # another process took it
    mine = await say(world, ALICE, BOB, "mine")
    assert mine.seq == 3
    stored = world.messages.stored(AB)
    assert [m.seq for m in stored] == [1, 2, 3]
    assert stored[1].text == "from elsewhere" and stored[2].text == "mine"
    assert (await say(world, ALICE, BOB)).seq == 4


async def test_a_writer_far_behind_jumps_to_the_head_without_gaps(world):
    await say(world, ALICE, BOB)
    for seq in range(2, 40):
        world.messages.plant(planted(AB, seq, BOB))
    mine = await say(world, ALICE, BOB, "at last")
    assert mine.seq == 40
    assert [m.seq for m in world.messages.stored(AB)] == list(range(1, 41))
    # One refused attempt, then the head: not one attempt per taken number.
    assert [m.seq for m in world.messages.insert_attempts if m.text == "at last"] == [2, 40]


async def test_two_processes_writing_one_chat_never_duplicate_a_seq(world):
    other = world.another_process()
    for turn in range(6):
        writer = world.chats if turn % 2 else other
        await writer.send(ALICE, to=BOB, text=f"turn {turn}", client_id=f"turn-{turn:04d}")
    assert [m.seq for m in world.messages.stored(AB)] == [1, 2, 3, 4, 5, 6]
    assert [m.text for m in world.messages.stored(AB)] == [f"turn {turn}" for turn in range(6)]


async def test_a_send_gives_up_when_no_seq_is_ever_free(world):
    class AlwaysTaken(MemoryMessageStore):
        async def insert(self, message):
            self.insert_attempts.append(message)
            return Inserted(seq_taken=True)

    chats = make_chats(AlwaysTaken(), world.chat_list, world.publisher)
    with pytest.raises(StoreUnavailable):
        await chats.send(ALICE, to=BOB, text="hello", client_id="never-free")
    assert world.publisher.attempts == []


async def test_concurrent_sends_in_one_process_take_consecutive_seqs(world):
    async with trio.open_nursery() as nursery:
        for n in range(10):
            nursery.start_soon(partial(world.chats.send, ALICE, to=BOB, text=f"n{n}", client_id=f"concurrent-{n}"))
    assert [m.seq for m in world.messages.stored(AB)] == list(range(1, 11))


# --- replies and forwards -------------------------------------------------------------------------

async def test_a_reply_names_a_message_of_the_same_chat(world):
    first = await say(world, ALICE, BOB, "question?")
    reply = await say(world, BOB, ALICE, "answer", reply_to=first.seq)
    assert (reply.seq, reply.reply_to) == (2, 1)
    assert world.publisher.events[-1].data["reply_to"] == 1


@pytest.mark.parametrize(("reply_to", "error"), [(5, MessageNotFound), (0, InvalidMessage), (-1, InvalidMessage)])
async def test_a_reply_to_a_message_that_does_not_exist_is_refused_and_nothing_stored(world, reply_to, error):
    await say(world, ALICE, BOB)
    with pytest.raises(error):
        await say(world, BOB, ALICE, "answer", reply_to=reply_to)
    assert len(world.messages.stored(AB)) == 1


async def test_a_reply_to_a_message_of_another_chat_is_refused(world):
    await say(world, ALICE, CAROL)
    with pytest.raises(MessageNotFound):
        await say(world, ALICE, BOB, "answer", reply_to=1)


async def test_a_forward_copies_the_text_and_names_the_original_author(world):
    original = await say(world, ALICE, BOB, "worth sharing")
    forwarded = await world.chats.forward(BOB, to=CAROL, from_chat=AB, seq=original.seq, client_id="forward-1")
    assert (forwarded.chat, forwarded.seq, forwarded.sender) == (BC, 1, BOB)
    assert (forwarded.text, forwarded.forwarded_from) == ("worth sharing", ALICE)
    assert world.publisher.events[-1].data["forwarded_from"] == ALICE


async def test_a_forward_of_a_forward_keeps_the_original_author(world):
    await say(world, ALICE, BOB, "worth sharing")
    await world.chats.forward(BOB, to=CAROL, from_chat=AB, seq=1, client_id="forward-2")
    again = await world.chats.forward(CAROL, to=ALICE, from_chat=BC, seq=1, client_id="forward-3")
    assert (again.chat, again.sender, again.forwarded_from, again.text) == (AC, CAROL, ALICE, "worth sharing")


async def test_forwarding_ones_own_message_names_oneself(world):
    await say(world, ALICE, BOB, "mine")
    forwarded = await world.chats.forward(ALICE, to=CAROL, from_chat=AB, seq=1, client_id="forward-4")
    assert forwarded.forwarded_from == ALICE


async def test_only_a_participant_may_forward_from_a_chat(world):
    await say(world, ALICE, BOB, "private")
    with pytest.raises(NotAParticipant):
        await world.chats.forward(CAROL, to=ALICE, from_chat=AB, seq=1, client_id="forward-5")
    assert world.messages.stored(AC) == []


async def test_a_deleted_message_cannot_be_forwarded(world):
    await say(world, ALICE, BOB, "oops")
    await world.chats.delete(ALICE, chat=AB, seq=1, for_everyone=True)
    with pytest.raises(MessageNotFound):
        await world.chats.forward(BOB, to=CAROL, from_chat=AB, seq=1, client_id="forward-6")


async def test_a_forward_resend_returns_the_first_copy(world):
    await say(world, ALICE, BOB, "worth sharing")
    first = await world.chats.forward(BOB, to=CAROL, from_chat=AB, seq=1, client_id="forward-7")
    again = await world.chats.forward(BOB, to=CAROL, from_chat=AB, seq=1, client_id="forward-7")
    assert again == first and len(world.messages.stored(BC)) == 1


# --- edits and deletes ----------------------------------------------------------------------------

async def test_the_sender_edits_a_message(world):
    await say(world, ALICE, BOB, "helo")
    edited = await world.chats.edit(ALICE, chat=AB, seq=1, text=" hello ")
    assert (edited.text, edited.seq) == ("hello", 1)
    assert edited.edited_at is not None and edited.edited_at > edited.sent_at
    assert world.messages.stored(AB) == [edited]
    event = world.publisher.events[-1]
    assert (event.kind, event.seq, event.at, event.data["text"]) == (events.MESSAGE_EDITED, 1, edited.edited_at,
                                                                     "hello")


async def test_only_the_sender_may_edit(world):
    await say(world, ALICE, BOB, "mine")
    with pytest.raises(NotYourMessage):
        await world.chats.edit(BOB, chat=AB, seq=1, text="yours now")
    assert world.messages.stored(AB)[0].text == "mine"


@pytest.mark.parametrize("text", ["", "   ", "bad\x00text", "x" * 4097])
async def test_an_edit_must_be_a_valid_text(world, text):
    await say(world, ALICE, BOB, "mine")
    with pytest.raises(InvalidMessage):
        await world.chats.edit(ALICE, chat=AB, seq=1, text=text)
    assert world.messages.stored(AB)[0].text == "mine"


async def test_a_missing_or_deleted_message_cannot_be_edited(world):
    await say(world, ALICE, BOB, "mine")
    with pytest.raises(MessageNotFound):
        await world.chats.edit(ALICE, chat=AB, seq=2, text="nothing there")
    await world.chats.delete(ALICE, chat=AB, seq=1, for_everyone=True)
    with pytest.raises(MessageNotFound):
        await world.chats.edit(ALICE, chat=AB, seq=1, text="back from the dead")


async def test_the_sender_deletes_for_everyone_and_the_seq_stays(world):
    await say(world, ALICE, BOB, "one")
    await say(world, ALICE, BOB, "two")
    await world.chats.delete(ALICE, chat=AB, seq=1, for_everyone=True)
    gone = world.messages.stored(AB)[0]
    assert (gone.seq, gone.text, gone.deleted) == (1, "", True)
    for account in (ALICE, BOB):
        page = await world.chats.history(account, chat=AB)
        assert [(m.seq, m.text, m.deleted) for m in page] == [(1, "", True), (2, "two", False)]
    event = world.publisher.events[-1]
    assert (event.kind, event.seq, event.data.get("deleted")) == (events.MESSAGE_DELETED, 1, True)


async def test_a_forwarded_message_deleted_for_everyone_no_longer_names_its_author(world):
    await say(world, ALICE, BOB, "worth sharing")
    await world.chats.forward(BOB, to=CAROL, from_chat=AB, seq=1, client_id="forward-8")
    await world.chats.delete(BOB, chat=BC, seq=1, for_everyone=True)
    assert world.messages.stored(BC)[0].forwarded_from is None


async def test_only_the_sender_may_delete_for_everyone(world):
    await say(world, ALICE, BOB, "mine")
    with pytest.raises(NotYourMessage):
        await world.chats.delete(BOB, chat=AB, seq=1, for_everyone=True)
    assert not world.messages.stored(AB)[0].deleted


async def test_delete_for_me_hides_the_message_from_that_account_only(world):
    await say(world, ALICE, BOB, "one")
    await say(world, ALICE, BOB, "two")
    published = len(world.publisher.events)
    await world.chats.delete(BOB, chat=AB, seq=1, for_everyone=False)
    assert [m.seq for m in await world.chats.history(BOB, chat=AB)] == [2]
    assert [m.seq for m in await world.chats.history(ALICE, chat=AB)] == [1, 2]
    assert world.messages.stored(AB)[0].text == "one"
    assert len(world.publisher.events) == published  # nobody else is told
    with pytest.raises(MessageNotFound):
        await world.chats.forward(BOB, to=CAROL, from_chat=AB, seq=1, client_id="forward-9")


async def test_both_deleting_for_themselves_hides_it_from_both(world):
    await say(world, ALICE, BOB, "one")
    await world.chats.delete(BOB, chat=AB, seq=1, for_everyone=False)
    await world.chats.delete(ALICE, chat=AB, seq=1, for_everyone=False)
    assert world.messages.stored(AB)[0].hidden_for == (ALICE, BOB)
    assert await world.chats.history(ALICE, chat=AB) == [] == await world.chats.history(BOB, chat=AB)


async def test_hidden_for_is_never_sent_to_a_client(world):
    await say(world, ALICE, BOB, "one")
    await world.chats.delete(BOB, chat=AB, seq=1, for_everyone=False)
    [message] = await world.chats.history(ALICE, chat=AB)
    assert "hidden_for" not in message.as_wire()


# --- history --------------------------------------------------------------------------------------

@pytest.fixture
def ten(world) -> World:
    for seq in range(1, 11):
        world.messages.plant(planted(AB, seq, ALICE if seq % 2 else BOB, f"m{seq}"))
    return world


async def seqs(world: World, account: str = ALICE, **paging) -> list[int]:
    return [m.seq for m in await world.chats.history(account, chat=AB, **paging)]


@pytest.mark.parametrize(("paging", "expected"), [
    ({}, list(range(1, 11))),
    ({"limit": 3}, [8, 9, 10]),
    ({"before": 6, "limit": 3}, [3, 4, 5]),
    ({"before": 3, "limit": 5}, [1, 2]),
    ({"before": 1}, []),
    ({"before": 50, "limit": 2}, [9, 10]),
    ({"after": 6, "limit": 3}, [7, 8, 9]),
    ({"after": 8, "limit": 5}, [9, 10]),
    ({"after": 10}, []),
    ({"after": 0, "limit": 2}, [1, 2]),
    ({"limit": 0}, [10]),
    ({"limit": -5}, [10]),
    ({"before": 5, "limit": 0}, [4]),
], ids=repr)
async def test_history_pages(ten, paging, expected):
    assert await seqs(ten, **paging) == expected


async def test_a_history_page_is_ascending_and_complete_for_both_participants(ten):
    assert [m.text for m in await ten.chats.history(BOB, chat=AB, before=4)] == ["m1", "m2", "m3"]


async def test_a_history_page_holds_at_most_a_hundred(world):
    for seq in range(1, 131):
        world.messages.plant(planted(AB, seq, ALICE))
    assert await seqs(world, limit=1000) == list(range(31, 131))
    assert await seqs(world, after=0, limit=500) == list(range(1, 101))


async def test_history_of_a_chat_without_messages_is_empty(world):
    assert await world.chats.history(ALICE, chat=AB) == []


async def test_history_refuses_both_before_and_after(ten):
    with pytest.raises(InvalidMessage):
        await ten.chats.history(ALICE, chat=AB, before=5, after=2)


async def test_history_reads_past_a_lagging_head_hint(world):
    await say(world, ALICE, BOB, "one")
    world.messages.plant(planted(AB, 2, BOB, "two"))      # the hint still says 1
    assert await seqs(world) == [1, 2]


# --- who may do what ------------------------------------------------------------------------------

STRANGER_CALLS = {
    "history": lambda chats, chat: chats.history(CAROL, chat=chat),
    "mark read": lambda chats, chat: chats.mark(CAROL, chat=chat, seq=1, kind="read"),
    "mark delivered": lambda chats, chat: chats.mark(CAROL, chat=chat, seq=1, kind="delivered"),
    "typing": lambda chats, chat: chats.typing(CAROL, chat=chat),
    "edit": lambda chats, chat: chats.edit(CAROL, chat=chat, seq=1, text="mine now"),
    "delete for everyone": lambda chats, chat: chats.delete(CAROL, chat=chat, seq=1, for_everyone=True),
    "delete for me": lambda chats, chat: chats.delete(CAROL, chat=chat, seq=1, for_everyone=False),
    "forward": lambda chats, chat: chats.forward(CAROL, to=BOB, from_chat=chat, seq=1, client_id="stranger1"),
}


@pytest.mark.parametrize("call", STRANGER_CALLS)
@pytest.mark.parametrize("chat", [AB, private_chat_id(ALICE, "@zed:ru"), "not a chat", "dm/@bob:ru/@alice:ru"])
async def test_a_stranger_is_told_only_that_it_is_not_a_participant(world, call, chat):
    await say(world, ALICE, BOB, "private")
    events_before = len(world.publisher.attempts)
    with pytest.raises(NotAParticipant):
        await STRANGER_CALLS[call](world.chats, chat)
    assert world.messages.stored(AB)[0].text == "private"
    assert len(world.publisher.attempts) == events_before


# --- refused sends --------------------------------------------------------------------------------

@pytest.mark.parametrize(("to", "text", "cid", "error"), [
    (ALICE, "hello", "client-ok", InvalidMessage),              # to oneself
    (DAVE_BY, "hello", "client-ok", Unreachable),               # another region, even if known
    ("@erin:kz", "hello", "client-ok", Unreachable),
    ("@zed:ru", "hello", "client-ok", UnknownRecipient),
    ("bob", "hello", "client-ok", InvalidMessage),
    ("@Bob:ru", "hello", "client-ok", InvalidMessage),
    (None, "hello", "client-ok", InvalidMessage),
    (BOB, "", "client-ok", InvalidMessage),
    (BOB, "a\x1bb", "client-ok", InvalidMessage),
    (BOB, "x" * 4097, "client-ok", InvalidMessage),
    (BOB, "hello", "short", InvalidMessage),
    (BOB, "hello", None, InvalidMessage),
], ids=lambda value: value.__name__ if isinstance(value, type) else None)
async def test_a_refused_send_stores_and_publishes_nothing(world, to, text, cid, error):
    with pytest.raises(error):
        await world.chats.send(ALICE, to=to, text=text, client_id=cid)
    assert world.messages.messages == {}
    assert world.messages.insert_attempts == []
    assert world.publisher.attempts == []
    assert world.chat_list.entries == {}


async def test_a_forward_to_an_unknown_account_stores_nothing(world):
    await say(world, ALICE, BOB, "hello")
    with pytest.raises(UnknownRecipient):
        await world.chats.forward(BOB, to="@zed:ru", from_chat=AB, seq=1, client_id="forward-10")
    assert len(world.messages.messages) == 1


# --- the chat list --------------------------------------------------------------------------------

async def test_a_send_updates_both_chat_list_entries_directly(world):
    await say(world, ALICE, BOB, "one")
    await say(world, ALICE, BOB, "two")
    alice, bob = world.chat_list.entry(ALICE, AB), world.chat_list.entry(BOB, AB)
    assert (alice.peer, alice.last_seq, alice.preview, alice.unread) == (BOB, 2, "two", 0)
    assert (bob.peer, bob.last_seq, bob.preview, bob.preview_sender, bob.unread) == (ALICE, 2, "two", ALICE, 2)


async def test_the_chat_list_is_updated_even_when_the_publisher_fails(world):
    world.publisher.fail = True
    with pytest.raises(NotPublished):
        await say(world, ALICE, BOB, "stored, not published")
    bob = world.chat_list.entry(BOB, AB)
    assert (bob.last_seq, bob.preview, bob.unread) == (1, "stored, not published", 1)


@pytest.mark.parametrize("error", [StoreUnavailable("down"), RuntimeError("driver bug")], ids=repr)
async def test_a_failing_chat_list_does_not_fail_the_send_and_the_projector_repairs_it(error):
    messages, publisher, broken = MemoryMessageStore(), RecordingPublisher(), BrokenChatList(error)
    chats = make_chats(messages, broken, publisher)
    message = await chats.send(ALICE, to=BOB, text="hello", client_id="no-chat-list")
    assert message.seq == 1 and broken.calls > 0
    assert [e.kind for e in publisher.events] == [events.MESSAGE_CREATED]
    await chats.mark(BOB, chat=AB, seq=1, kind="read")           # receipts too

    repaired = MemoryChatList()
    for event in publisher.events:                               # what the projector reads from Kafka
        await project(repaired, event, region="ru")
    assert repaired.entry(ALICE, AB).last_seq == 1
    assert (repaired.entry(BOB, AB).preview, repaired.entry(BOB, AB).unread) == ("hello", 0)


async def test_the_projector_path_alone_builds_the_same_list_as_the_writer(world):
    await say(world, ALICE, BOB, "one")
    await say(world, BOB, ALICE, "two")
    await world.chats.edit(BOB, chat=AB, seq=2, text="two, edited")
    await world.chats.mark(ALICE, chat=AB, seq=2, kind="read")
    projected = MemoryChatList()
    for event in world.publisher.events:
        await project(projected, event, region="ru")
    for account in (ALICE, BOB):
        mine, theirs = world.chat_list.entry(account, AB), projected.entry(account, AB)
        assert (mine.last_seq, mine.preview, mine.read_seq) == (theirs.last_seq, theirs.preview, theirs.read_seq)


async def test_chats_lists_the_most_recent_first(world):
    await say(world, ALICE, BOB, "to bob")
    await say(world, CAROL, ALICE, "to alice")
    assert [entry.peer for entry in await world.chats.chats(ALICE)] == [CAROL, BOB]
    assert [entry.peer for entry in await world.chats.chats(ALICE, limit=0)] == [CAROL]


# --- receipts and typing --------------------------------------------------------------------------

async def test_a_read_receipt_moves_the_readers_cursor_and_entry_only(world):
    for _ in range(3):
        await say(world, ALICE, BOB)
    assert await world.chats.mark(BOB, chat=AB, seq=2, kind="read") == 2
    cursors = await world.messages.cursors(AB)
    assert cursors.read == {ALICE: 0, BOB: 2}
    assert (world.chat_list.entry(BOB, AB).read_seq, world.chat_list.entry(BOB, AB).unread) == (2, 1)
    assert world.chat_list.entry(ALICE, AB).read_seq == 3
    event = world.publisher.events[-1]
    assert (event.kind, event.actor, event.seq, set(event.recipients)) == (events.RECEIPT_READ, BOB, 2, {ALICE, BOB})


async def test_a_read_receipt_never_moves_back(world):
    for _ in range(3):
        await say(world, ALICE, BOB)
    await world.chats.mark(BOB, chat=AB, seq=3, kind="read")
    await world.chats.mark(BOB, chat=AB, seq=1, kind="read")
    assert (await world.messages.cursors(AB)).read[BOB] == 3
    assert world.chat_list.entry(BOB, AB).read_seq == 3


async def test_a_delivery_receipt_moves_the_delivered_cursor_and_leaves_the_list(world):
    await say(world, ALICE, BOB)
    before = world.chat_list.entry(BOB, AB)
    await world.chats.mark(BOB, chat=AB, seq=1, kind="delivered")
    assert (await world.messages.cursors(AB)).delivered == {ALICE: 0, BOB: 1}
    assert world.chat_list.entry(BOB, AB) == before
    assert world.publisher.events[-1].kind == events.RECEIPT_DELIVERED


@pytest.mark.parametrize("seq", [0, -1, 3, 100])
@pytest.mark.parametrize("kind", ["read", "delivered"])
async def test_a_receipt_must_name_a_stored_message(world, seq, kind):
    await say(world, ALICE, BOB)
    await say(world, ALICE, BOB)
    published = len(world.publisher.attempts)
    with pytest.raises(MessageNotFound):
        await world.chats.mark(BOB, chat=AB, seq=seq, kind=kind)
    assert world.messages.cursor_positions == {}
    assert len(world.publisher.attempts) == published


async def test_a_receipt_in_an_empty_chat_is_refused(world):
    with pytest.raises(MessageNotFound):
        await world.chats.mark(BOB, chat=AB, seq=1, kind="read")


async def test_typing_tells_the_other_participant(world):
    await world.chats.typing(ALICE, chat=AB)
    [event] = world.publisher.events
    assert (event.kind, event.actor, event.recipients, event.seq) == (events.TYPING, ALICE, (BOB,), 0)
    assert world.chat_list.entries == {}


# --- order of announcements -----------------------------------------------------------------------

@pytest.mark.parametrize("second", ["edit", "delete"])
async def test_changes_to_a_message_are_published_in_the_order_they_were_made(world, second):
    await say(world, ALICE, BOB, "first draft")
    release = trio.Event()

    async def slow_first_edit(event):
        if event.kind == events.MESSAGE_EDITED and event.data["text"] == "second draft":
            await release.wait()          # Kafka is slow to acknowledge this one

    world.publisher.before_publish = slow_first_edit
    async with trio.open_nursery() as nursery:
        nursery.start_soon(partial(world.chats.edit, ALICE, chat=AB, seq=1, text="second draft"))
        await trio.testing.wait_all_tasks_blocked()
        if second == "edit":
            nursery.start_soon(partial(world.chats.edit, ALICE, chat=AB, seq=1, text="third draft"))
        else:
            nursery.start_soon(partial(world.chats.delete, ALICE, chat=AB, seq=1, for_everyone=True))
        await trio.testing.wait_all_tasks_blocked()  # the second change waits for the first's turn
        release.set()

    # What the other participant's client and the projector see, in Kafka's order:
    projected = MemoryChatList()
    for event in world.publisher.events:
        await project(projected, event, region="ru")
    stored = world.messages.stored(AB)[0]
    expected_preview = "message deleted" if stored.deleted else stored.text
    assert projected.entry(BOB, AB).preview == expected_preview
    assert world.publisher.events[-1].data["text"] == stored.text
