"""Blocks and reports: what a user does about someone unwelcome.

A blocked account cannot start or continue a private chat with the blocker, nor see the blocker's
presence; groups are unaffected (the group's admins decide who is in it). A report (spam, fraud,
abuse) names an account and, optionally, messages the reporter can read; the node keeps a copy of
those messages for the moderators, since the sender could delete them afterwards.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from svyaz.identity.accounts import parse_account_id
from svyaz.identity.errors import MalformedAccountId
from svyaz.messaging.errors import InvalidMessage, MessageNotFound
from svyaz.messaging.model import Message

REASONS = ("spam", "fraud", "abuse")
MAX_EVIDENCE = 20
NOTE_CHARS = 1000


@dataclass(frozen=True)
class Report:
    id: str
    reporter: str
    account: str
    reason: str
    note: str
    messages: tuple[dict, ...]        # copies of the referenced messages, as the reporter saw them
    created_at: float
    status: str = "open"
    decided_by: str | None = None
    decision: str | None = None


def checked_account(raw: object, *, besides: str) -> str:
    try:
        account = str(parse_account_id(raw))
    except MalformedAccountId as err:
        raise InvalidMessage(str(err), hint=err.hint) from None
    if account == besides:
        raise InvalidMessage("that is your own account")
    return account


def new_report(reporter: str, account: str, reason: object, note: object, messages: Sequence[Message],
               clock: Callable[[], float] = time.time) -> Report:
    if reason not in REASONS:
        raise InvalidMessage(f"the reason is one of {', '.join(REASONS)}")
    if note is not None and (not isinstance(note, str) or len(note) > NOTE_CHARS):
        raise InvalidMessage(f"a note is text of at most {NOTE_CHARS} characters")
    if any(message.sender != account for message in messages):
        raise MessageNotFound("a reported message must be one the reported account sent")
    return Report(id=uuid.uuid4().hex, reporter=reporter, account=account, reason=reason, note=note or "",
                  messages=tuple(message.as_wire() for message in messages), created_at=clock())
