"""The chat list projection: one entry per (account, chat), and how an event changes it.

Two paths apply the same events (seed ADR-1): the writer, directly after storing a message, and
the projector, from Kafka. So `apply` is idempotent (applying an event twice is applying it once)
and tolerant of order (an older event after a newer one changes nothing it should not): positions
only grow (`max`), and the preview follows the highest sequence number seen. Unread counts come
from positions, never from counting messages: `last_seq - read_seq`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from svyaz.messaging import events
from svyaz.messaging.content import preview
from svyaz.messaging.events import Event
from svyaz.messaging.ids import is_private

DELETED_PREVIEW = "message deleted"


@dataclass(frozen=True)
class ChatListEntry:
    account: str
    chat: str
    peer: str = ""              # the other participant of a private chat
    last_seq: int = 0
    last_at: float = 0.0
    preview: str = ""
    preview_sender: str = ""
    preview_at: float = 0.0     # when the preview's text was written (sent or last edited)
    read_seq: int = 0
    version: int = 0            # bumped by every store write; the compare-and-set key

    @property
    def unread(self) -> int:
        return max(0, self.last_seq - self.read_seq)


def apply(entry: ChatListEntry, event: Event) -> ChatListEntry:
    """`entry` (its account's view of `event.chat`) after `event`."""
    if event.kind == events.MESSAGE_CREATED:
        return _created(entry, event)
    if event.kind == events.MESSAGE_EDITED and event.seq == entry.last_seq:
        # Deletion is final, and an older edit arriving late must not undo a newer one.
        if entry.preview == DELETED_PREVIEW or event.at < entry.preview_at:
            return entry
        return replace(entry, preview=preview(event.data.get("text", "")), preview_at=event.at)
    if event.kind == events.MESSAGE_DELETED and event.seq == entry.last_seq:
        return replace(entry, preview=DELETED_PREVIEW)
    if event.kind == events.RECEIPT_READ and event.actor == entry.account:
        return replace(entry, read_seq=max(entry.read_seq, event.seq))
    return entry


def _created(entry: ChatListEntry, event: Event) -> ChatListEntry:
    updated = entry
    if event.seq > entry.last_seq:
        updated = replace(updated, last_seq=event.seq, last_at=event.at, preview=preview(event.data.get("text", "")),
                          preview_sender=event.actor, preview_at=event.at)
    if event.actor == entry.account:
        # Writing in a chat reads it up to what one wrote.
        updated = replace(updated, read_seq=max(updated.read_seq, event.seq))
    return updated


def accounts_concerned(event: Event, region: str) -> tuple[str, ...]:
    """Whose chat list entries, on `region`'s node, an event may change. Only private chats have
    entries: a group's or channel's line in a chat list is computed when read (its head against the
    reader's cursor), never written per member. A participant living in another region has its
    entry on its own home node, never here."""
    if not is_private(event.chat):
        return ()
    if event.kind == events.RECEIPT_READ:
        concerned: set[str] = {event.actor}
    elif event.kind in events.PROJECTED:
        concerned = set(event.recipients) | {event.actor}
    else:
        return ()
    return tuple(sorted(account for account in concerned if account.rpartition(":")[2] == region))
