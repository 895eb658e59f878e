"""Chat, message and client-message ids.

Kinds of chat, by prefix: `dm/` private, `sc/` secret (a private chat whose messages are end-to-end
encrypted; see below), `g/<region>/<id>` group, `c/<region>/<id>` channel, and
`c/<region>/<id>/p/<seq>` the comment thread of one channel post. Group and channel ids carry the
region of their home node.

A private chat's id is derived from its two participants, so both sides (and, later, both home
nodes) name it the same without asking anyone: `dm/@alice:ru/@bob:ru`, participants sorted. A
stored message's id is `<chat>#<seq as 12 digits>`: unique per chat and sequence, and a page of
history is a run of ids the reader can compute. A client message id is chosen by the sender's
device and makes a resend after a timeout return the first copy instead of a second one.

A secret chat is a private chat between two devices' keys, so the same two people may hold several:
`sc/@alice:ru/@bob:ru/<16 hex>`, the suffix chosen by whoever starts it. It is PRIVATE in every
respect but content: the node stores sealed envelopes only (`is_secret`).
"""

from __future__ import annotations

import re
import uuid

from svyaz.identity.accounts import parse_account_id
from svyaz.identity.errors import MalformedAccountId
from svyaz.messaging.errors import InvalidMessage

PRIVATE_PREFIX = "dm/"
SECRET_PREFIX = "sc/"
_SECRET_SUFFIX = re.compile(r"[0-9a-f]{16}")
SEQ_DIGITS = 12
_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


def private_chat_id(one: str, other: str) -> str:
    first, second = sorted((one, other))
    return f"{PRIVATE_PREFIX}{first}/{second}"


def new_secret_chat_id(one: str, other: str) -> str:
    first, second = sorted((one, other))
    return f"{SECRET_PREFIX}{first}/{second}/{uuid.uuid4().hex[:16]}"


def is_private(chat_id: object) -> bool:
    """A two-person chat, plain or secret (by prefix only; `private_participants` checks the rest)."""
    return isinstance(chat_id, str) and chat_id.startswith((PRIVATE_PREFIX, SECRET_PREFIX))


def is_secret(chat_id: object) -> bool:
    return isinstance(chat_id, str) and chat_id.startswith(SECRET_PREFIX)


def private_participants(chat_id: str) -> tuple[str, str]:
    """The two accounts of a private or secret chat id; InvalidMessage if it is neither."""
    if is_secret(chat_id) and chat_id.count("/") == 3:
        pair, _, suffix = chat_id[len(SECRET_PREFIX):].rpartition("/")
        if not _SECRET_SUFFIX.fullmatch(suffix):
            raise InvalidMessage(f"{chat_id[:80]!r} is not a secret chat id (sc/@a:r/@b:r/<16 hex digits>)")
    elif isinstance(chat_id, str) and chat_id.startswith(PRIVATE_PREFIX) and chat_id.count("/") == 2:
        pair = chat_id[len(PRIVATE_PREFIX):]
    else:
        raise InvalidMessage(f"{str(chat_id)[:80]!r} is not a private chat id (dm/@a:r/@b:r)")
    first, second = pair.split("/")
    try:
        parse_account_id(first), parse_account_id(second)
    except MalformedAccountId as err:
        raise InvalidMessage(f"{chat_id[:80]!r} names a malformed account: {err}") from None
    if first >= second:
        raise InvalidMessage(f"{chat_id[:80]!r} is not a private chat id: participants must be two, sorted")
    return first, second


GROUP_PREFIX = "g/"
CHANNEL_PREFIX = "c/"
_SHARED_ID = re.compile(r"[gc]/[a-z]{2}/[0-9a-f]{16}")
_THREAD_ID = re.compile(r"(c/[a-z]{2}/[0-9a-f]{16})/p/([1-9][0-9]{0,11})")

PRIVATE, GROUP, CHANNEL, COMMENTS = "private", "group", "channel", "comments"


def new_group_id(region: str) -> str:
    return f"{GROUP_PREFIX}{region}/{uuid.uuid4().hex[:16]}"


def new_channel_id(region: str) -> str:
    return f"{CHANNEL_PREFIX}{region}/{uuid.uuid4().hex[:16]}"


def comments_chat_id(channel: str, post_seq: int) -> str:
    return f"{channel}/p/{post_seq}"


def home_of(chat_id: str) -> str:
    """The region of a group's or channel's (or comment thread's) home node: `g/kz/...` -> `kz`.
    That node numbers its messages and decides its membership; other regions keep copies."""
    if chat_kind(chat_id) not in (GROUP, CHANNEL, COMMENTS):
        raise InvalidMessage(f"{str(chat_id)[:80]!r} is not a group or channel id")
    return chat_id.split("/", 2)[1]


def chat_kind(chat_id: object) -> str:
    """PRIVATE, GROUP, CHANNEL or COMMENTS; InvalidMessage for anything else."""
    if isinstance(chat_id, str):
        if is_private(chat_id):
            private_participants(chat_id)
            return PRIVATE
        if _SHARED_ID.fullmatch(chat_id):
            return GROUP if chat_id.startswith(GROUP_PREFIX) else CHANNEL
        if _THREAD_ID.fullmatch(chat_id):
            return COMMENTS
    raise InvalidMessage(f"{str(chat_id)[:80]!r} is not a chat id")


def thread_of(comments_chat: str) -> tuple[str, int]:
    """(channel, post seq) of a comment thread id."""
    match = _THREAD_ID.fullmatch(comments_chat)
    if match is None:
        raise InvalidMessage(f"{comments_chat[:80]!r} is not a comment thread")
    return match.group(1), int(match.group(2))


def message_id(chat_id: str, seq: int) -> str:
    return f"{chat_id}#{seq:0{SEQ_DIGITS}d}"


def check_client_id(client_id: object) -> str:
    if not isinstance(client_id, str) or not _CLIENT_ID.fullmatch(client_id):
        raise InvalidMessage("client_id must be 8-64 characters of A-Z a-z 0-9 _ - (e.g. a UUID without dashes)")
    return client_id
