"""Chat, message and client-message ids.

A private chat's id is derived from its two participants, so both sides (and, later, both home
nodes) name it the same without asking anyone: `dm/@alice:ru/@bob:ru`, participants sorted. A
stored message's id is `<chat>#<seq as 12 digits>`: unique per chat and sequence, and a page of
history is a run of ids the reader can compute. A client message id is chosen by the sender's
device and makes a resend after a timeout return the first copy instead of a second one.
"""

from __future__ import annotations

import re

from svyaz.identity.accounts import parse_account_id
from svyaz.identity.errors import MalformedAccountId
from svyaz.messaging.errors import InvalidMessage

PRIVATE_PREFIX = "dm/"
SEQ_DIGITS = 12
_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


def private_chat_id(one: str, other: str) -> str:
    first, second = sorted((one, other))
    return f"{PRIVATE_PREFIX}{first}/{second}"


def private_participants(chat_id: str) -> tuple[str, str]:
    """The two accounts of a private chat id; InvalidMessage if it is not one."""
    if not isinstance(chat_id, str) or not chat_id.startswith(PRIVATE_PREFIX) or chat_id.count("/") != 2:
        raise InvalidMessage(f"{str(chat_id)[:80]!r} is not a private chat id (dm/@a:r/@b:r)")
    first, second = chat_id[len(PRIVATE_PREFIX):].split("/")
    try:
        parse_account_id(first), parse_account_id(second)
    except MalformedAccountId as err:
        raise InvalidMessage(f"{chat_id[:80]!r} names a malformed account: {err}") from None
    if first >= second:
        raise InvalidMessage(f"{chat_id[:80]!r} is not a private chat id: participants must be two, sorted")
    return first, second


def message_id(chat_id: str, seq: int) -> str:
    return f"{chat_id}#{seq:0{SEQ_DIGITS}d}"


def check_client_id(client_id: object) -> str:
    if not isinstance(client_id, str) or not _CLIENT_ID.fullmatch(client_id):
        raise InvalidMessage("client_id must be 8-64 characters of A-Z a-z 0-9 _ - (e.g. a UUID without dashes)")
    return client_id
