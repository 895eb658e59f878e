"""Chat, message and client-message ids (svyaz/messaging/ids.py)."""

from __future__ import annotations

import pytest

from svyaz.messaging.errors import InvalidMessage
from svyaz.messaging.ids import check_client_id, message_id, private_chat_id, private_participants

ALICE, BOB = "@alice:ru", "@bob:ru"


def test_a_private_chat_has_one_id_whichever_side_names_it():
    assert private_chat_id(ALICE, BOB) == private_chat_id(BOB, ALICE) == "dm/@alice:ru/@bob:ru"


def test_a_private_chat_id_lists_its_participants_sorted():
    assert private_chat_id("@zoe:kz", "@adam:by") == "dm/@adam:by/@zoe:kz"


@pytest.mark.parametrize("pair", [(ALICE, BOB), ("@zoe:kz", "@adam:by"), ("@ann.b:ru", "@ann_b:ru"),
                                  ("@bob:ru", "@bob:by")])
def test_the_participants_come_back_from_the_chat_id(pair):
    chat = private_chat_id(*pair)
    assert private_participants(chat) == tuple(sorted(pair))
    assert private_chat_id(*private_participants(chat)) == chat


@pytest.mark.parametrize("chat_id", [
    "@alice:ru/@bob:ru",                    # no dm/ prefix
    "gr/@alice:ru/@bob:ru",                 # another prefix
    "dm/@bob:ru/@alice:ru",                 # unsorted
    "dm/@alice:ru/@alice:ru",               # one person twice
    "dm/@alice:ru",                         # one participant
    "dm/@alice:ru/@bob:ru/@carol:ru",       # three
    "dm//@bob:ru",                          # an empty participant
    "dm/alice/@bob:ru",                     # not an account id
    "dm/@alice:xx/@bob:ru",                 # unknown region
    "dm/@Alice:ru/@bob:ru",                 # upper case name
    "dm/@al:ru/@bob:ru",                    # name too short
    "",
    None,
    42,
])
def test_anything_but_a_private_chat_id_is_refused(chat_id):
    with pytest.raises(InvalidMessage):
        private_participants(chat_id)


def test_a_message_id_pads_the_seq_to_twelve_digits():
    assert message_id("dm/@alice:ru/@bob:ru", 7) == "dm/@alice:ru/@bob:ru#000000000007"


def test_message_ids_sort_as_text_in_seq_order():
    chat = private_chat_id(ALICE, BOB)
    seqs = [1, 2, 9, 10, 11, 99, 100, 101, 12345, 999_999_999_999]
    ids = [message_id(chat, seq) for seq in seqs]
    assert sorted(ids) == ids
    assert sorted(reversed(ids)) == ids


@pytest.mark.parametrize("client_id", ["a" * 8, "Z" * 64, "0123456789abcdef0123456789abcdef", "a_b-c_d-",
                                       "550e8400-e29b-41d4-a716-446655440000"])
def test_client_ids_of_8_to_64_safe_characters_are_accepted(client_id):
    assert check_client_id(client_id) == client_id


@pytest.mark.parametrize("client_id", [
    "a" * 7,            # too short
    "a" * 65,           # too long
    "",
    "abcd efgh",        # a space
    "abcdefg!",         # punctuation
    "abcd/efgh",
    "абвгдежз",         # letters outside A-Z
    "abcdefgh\n",       # a trailing newline must not slip past the pattern
    12345678,
    None,
    b"abcdefgh",
])
def test_other_client_ids_are_refused(client_id):
    with pytest.raises(InvalidMessage):
        check_client_id(client_id)
