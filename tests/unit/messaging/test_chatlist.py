"""The chat-list projection (svyaz/messaging/chatlist.py): idempotent and tolerant of order, because
the writer and the projector both apply every event (seed ADR-1).

hypothesis is not in the project's environment, so the properties are checked over tables: every
order of a chat's messages, every event applied twice, every kind of event.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import permutations

import pytest

from svyaz.messaging import events
from svyaz.messaging.chatlist import DELETED_PREVIEW, ChatListEntry, accounts_concerned, apply
from svyaz.messaging.events import Event

ALICE, BOB = "@alice:ru", "@bob:ru"
CHAT = "dm/@alice:ru/@bob:ru"
# Who wrote seq 1, 2, 3, ... of the chat.
SENDERS = (ALICE, BOB, BOB, ALICE, BOB)
TEXTS = ("one", "two", "three", "four", "five\nand a second line")


def other(account: str) -> str:
    return BOB if account == ALICE else ALICE


def created(seq: int, sender: str | None = None, text: str | None = None) -> Event:
    sender = sender or SENDERS[seq - 1]
    return Event(kind=events.MESSAGE_CREATED, chat=CHAT, actor=sender, recipients=(other(sender), sender), seq=seq,
                 at=100.0 + seq, data={"seq": seq, "sender": sender, "text": text or TEXTS[seq - 1]}, id=f"c{seq}")


def edited(seq: int, text: str, at: float = 500.0) -> Event:
    sender = SENDERS[seq - 1]
    return Event(kind=events.MESSAGE_EDITED, chat=CHAT, actor=sender, recipients=(other(sender), sender), seq=seq,
                 at=at, data={"seq": seq, "sender": sender, "text": text, "edited_at": at})


def deleted(seq: int) -> Event:
    sender = SENDERS[seq - 1]
    return Event(kind=events.MESSAGE_DELETED, chat=CHAT, actor=sender, recipients=(other(sender), sender), seq=seq,
                 at=100.0 + seq, data={"seq": seq, "sender": sender, "text": "", "deleted": True})


def receipt(kind: str, reader: str, seq: int) -> Event:
    return Event(kind=kind, chat=CHAT, actor=reader, recipients=(other(reader), reader), seq=seq, at=900.0)


def typing(account: str) -> Event:
    return Event(kind=events.TYPING, chat=CHAT, actor=account, recipients=(other(account),), at=900.0)


def empty(account: str) -> ChatListEntry:
    return ChatListEntry(account=account, chat=CHAT, peer=other(account))


def applied(entry: ChatListEntry, *events_: Event) -> ChatListEntry:
    for event in events_:
        entry = apply(entry, event)
    return entry


CREATED = [created(seq) for seq in range(1, len(SENDERS) + 1)]


# --- order tolerance ------------------------------------------------------------------------------

@pytest.mark.parametrize("account", [ALICE, BOB])
def test_the_messages_of_a_chat_in_any_order_end_in_the_entry_of_seq_order(account):
    expected = applied(empty(account), *CREATED)
    for order in permutations(CREATED):
        assert applied(empty(account), *order) == expected, [event.seq for event in order]


def test_the_entry_follows_the_highest_seq():
    entry = applied(empty(ALICE), *CREATED)
    assert (entry.last_seq, entry.last_at, entry.preview, entry.preview_sender) == \
        (5, 105.0, "five and a second line", BOB)


def test_an_older_message_after_a_newer_one_changes_nothing_for_the_reader():
    newer = applied(empty(BOB), created(4))
    assert apply(newer, created(1)) == newer


def test_an_older_message_of_ones_own_still_counts_as_read():
    # seq 1 is Alice's: it arrives late, after Bob's seq 3; her read position must not lose it.
    entry = applied(empty(ALICE), created(3), created(1))
    assert (entry.last_seq, entry.preview, entry.read_seq) == (3, "three", 1)


# --- idempotence ----------------------------------------------------------------------------------

EVERY_KIND = [*CREATED, edited(5, "five, fixed"), edited(2, "two, fixed"), deleted(5), deleted(1),
              receipt(events.RECEIPT_READ, ALICE, 3), receipt(events.RECEIPT_READ, BOB, 5),
              receipt(events.RECEIPT_DELIVERED, BOB, 5), typing(ALICE)]
STARTS = {"empty": lambda account: empty(account),
          "after 3": lambda account: applied(empty(account), *CREATED[:3]),
          "after all": lambda account: applied(empty(account), *CREATED)}


@pytest.mark.parametrize("start", STARTS)
@pytest.mark.parametrize("account", [ALICE, BOB])
@pytest.mark.parametrize("event", EVERY_KIND, ids=lambda event: f"{event.kind}-{event.actor}-{event.seq}")
def test_applying_an_event_twice_is_applying_it_once(event, account, start):
    entry = STARTS[start](account)
    once = apply(entry, event)
    assert apply(once, event) == once


@pytest.mark.parametrize("account", [ALICE, BOB])
def test_replaying_the_whole_chat_changes_nothing(account):
    history = [*CREATED, edited(5, "five, fixed"), receipt(events.RECEIPT_READ, account, 5)]
    once = applied(empty(account), *history)
    assert applied(once, *history) == once


def test_apply_keeps_the_version_for_the_store_to_bump():
    entry = replace(empty(ALICE), version=7)
    assert apply(entry, created(1)).version == 7


# --- own messages and read receipts ---------------------------------------------------------------

def test_writing_in_a_chat_reads_it_up_to_ones_own_message():
    alice = applied(empty(ALICE), created(1), created(2), created(3), created(4))
    assert (alice.read_seq, alice.unread) == (4, 0)
    bob = applied(empty(BOB), created(1), created(2), created(3), created(4))
    assert (bob.read_seq, bob.unread) == (3, 1)


def test_a_read_receipt_moves_the_readers_entry():
    bob = applied(empty(BOB), *CREATED[:4], receipt(events.RECEIPT_READ, BOB, 4))
    assert (bob.read_seq, bob.unread) == (4, 0)


def test_a_read_receipt_never_moves_the_other_participants_entry():
    alice = applied(empty(ALICE), *CREATED[:3])
    assert apply(alice, receipt(events.RECEIPT_READ, BOB, 3)) == alice


def test_a_read_position_never_goes_back():
    bob = applied(empty(BOB), *CREATED[:4], receipt(events.RECEIPT_READ, BOB, 4))
    assert apply(bob, receipt(events.RECEIPT_READ, BOB, 2)).read_seq == 4


@pytest.mark.parametrize("event", [receipt(events.RECEIPT_DELIVERED, BOB, 5), typing(BOB), typing(ALICE)],
                         ids=lambda event: event.kind)
def test_delivery_receipts_and_typing_leave_the_entry_alone(event):
    bob = applied(empty(BOB), *CREATED)
    assert apply(bob, event) == bob


# --- edits and deletes ----------------------------------------------------------------------------

@pytest.mark.parametrize("account", [ALICE, BOB])
def test_editing_the_last_message_changes_the_preview_only(account):
    before = applied(empty(account), *CREATED)
    after = apply(before, edited(5, "five,\nfixed"))
    assert after == replace(before, preview="five, fixed", preview_at=500.0)


@pytest.mark.parametrize("account", [ALICE, BOB])
def test_deleting_the_last_message_shows_it_deleted(account):
    before = applied(empty(account), *CREATED)
    assert apply(before, deleted(5)) == replace(before, preview=DELETED_PREVIEW)


@pytest.mark.parametrize("event", [edited(3, "three, fixed"), deleted(3)], ids=lambda event: event.kind)
def test_changing_an_older_message_leaves_the_preview_alone(event):
    before = applied(empty(BOB), *CREATED)
    assert apply(before, event) == before


def test_a_message_after_an_edited_one_takes_the_preview():
    entry = applied(empty(BOB), *CREATED[:4], edited(4, "four, fixed"), created(5))
    assert entry.preview == "five and a second line"


def test_a_replayed_creation_does_not_undo_an_edit_or_a_delete():
    edited_entry = applied(empty(BOB), *CREATED, edited(5, "five, fixed"))
    assert apply(edited_entry, created(5)) == edited_entry
    deleted_entry = applied(empty(BOB), *CREATED, deleted(5))
    assert apply(deleted_entry, created(5)) == deleted_entry


@pytest.mark.parametrize("late", ["edit after delete", "older edit after newer"])
def test_a_late_edit_does_not_rewrite_a_newer_preview(late):
    if late == "edit after delete":
        entry = applied(empty(BOB), *CREATED, edited(5, "five, fixed", at=300.0), deleted(5))
        assert apply(entry, edited(5, "five, fixed", at=300.0)).preview == DELETED_PREVIEW
    else:
        entry = applied(empty(BOB), *CREATED, edited(5, "first fix", at=300.0), edited(5, "second fix", at=400.0))
        assert apply(entry, edited(5, "first fix", at=300.0)).preview == "second fix"


# --- unread ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("last_seq", "read_seq", "unread"), [(0, 0, 0), (5, 0, 5), (5, 3, 2), (5, 5, 0), (3, 5, 0)])
def test_unread_is_last_seq_minus_read_seq_never_negative(last_seq, read_seq, unread):
    assert replace(empty(BOB), last_seq=last_seq, read_seq=read_seq).unread == unread


def test_a_read_receipt_ahead_of_the_messages_gives_no_negative_unread():
    bob = applied(empty(BOB), receipt(events.RECEIPT_READ, BOB, 5), created(1), created(2))
    assert (bob.last_seq, bob.read_seq, bob.unread) == (2, 5, 0)


# --- whose entries --------------------------------------------------------------------------------

@pytest.mark.parametrize(("event", "accounts"), [
    (created(1), (ALICE, BOB)),
    (created(2), (ALICE, BOB)),
    (edited(5, "x"), (ALICE, BOB)),
    (deleted(1), (ALICE, BOB)),
    (receipt(events.RECEIPT_READ, BOB, 3), (BOB,)),
    (receipt(events.RECEIPT_DELIVERED, BOB, 3), ()),
    (typing(ALICE), ()),
], ids=lambda value: value.kind if isinstance(value, Event) else None)
def test_accounts_concerned(event, accounts):
    assert accounts_concerned(event, "ru") == accounts


def test_the_actor_is_concerned_even_when_not_a_recipient():
    event = replace(created(1), recipients=(BOB,))
    assert accounts_concerned(event, "ru") == (ALICE, BOB)


def test_a_participant_of_another_region_has_no_entry_here():
    """Bob lives in kz: his chat list is kept by kz's node, which stores the chat too."""
    event = replace(created(1), chat="dm/@alice:ru/@bob:kz", recipients=(ALICE, "@bob:kz"), actor="@bob:kz")
    assert accounts_concerned(event, "ru") == (ALICE,)
    assert accounts_concerned(event, "kz") == ("@bob:kz",)


@pytest.mark.parametrize("chat", ["g/ru/0123456789abcdef", "c/ru/0123456789abcdef", "c/ru/0123456789abcdef/p/3"])
def test_group_and_channel_events_concern_no_entry(chat):
    for event in (created(1), edited(1, "x"), deleted(1), receipt(events.RECEIPT_READ, BOB, 1)):
        assert accounts_concerned(replace(event, chat=chat, audience=chat), "ru") == ()
