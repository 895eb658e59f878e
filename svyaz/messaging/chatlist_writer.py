"""Applying events to the chat-list store: what both the writer and the projector call.

FerretDB has no transactions and applies an update by reading and rewriting the document, so a
write is a compare-and-set on the entry's `version`, retried a few times; a write that keeps
losing is left to the next event (the other path applies the same event too).
"""

from __future__ import annotations

import logging

import trio

from svyaz.messaging.chatlist import ChatListEntry, accounts_concerned, apply
from svyaz.messaging.events import Event
from svyaz.messaging.ids import private_participants
from svyaz.messaging.ports import ChatListStore

logger = logging.getLogger("svyaz.messaging.chatlist")

_ATTEMPTS = 4


async def project(store: ChatListStore, event: Event, *, region: str) -> None:
    """Apply `event` to the entry of every account of `region` it concerns, the entries side by
    side (each is its own document: on a send's path, two in parallel take the time of one)."""
    failures: list[Exception] = []

    async def one(account: str) -> None:
        try:
            await _project_one(store, account, event)
        except Exception as err:  # noqa: BLE001 - raised below as itself, not wrapped in a group
            failures.append(err)

    async with trio.open_nursery() as nursery:
        for account in accounts_concerned(event, region):
            nursery.start_soon(one, account)
    if failures:
        raise failures[0]


async def _project_one(store: ChatListStore, account: str, event: Event) -> None:
    for _ in range(_ATTEMPTS):
        current = await store.get(account, event.chat)
        base = current or ChatListEntry(account=account, chat=event.chat, peer=_peer(account, event.chat))
        updated = apply(base, event)
        if current is not None and updated == current:
            return
        if await store.put(updated):
            return
    logger.warning("chat list entry kept changing; the next event settles it",
                   extra={"chat": event.chat, "event_kind": event.kind})


def _peer(account: str, chat: str) -> str:
    first, second = private_participants(chat)
    return second if account == first else first
