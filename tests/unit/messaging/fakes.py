"""In-memory stand-ins for the messaging ports (svyaz/messaging/ports.py), for unit tests only.

`MemoryMessageStore` keeps the rules of the Mongo adapter (svyaz/messaging/store.py): a message is
unique by (chat, seq) and by (chat, sender, client_id); a refused insert says whether the seq was
taken by another message or the same client id already produced a copy; `by_client_id` reads only
the fast lookup, which a writer that stopped half-way never filled in; `head` is a hint plus a probe
past it, so it may lag but never runs ahead. `MemoryChatList` is a compare-and-set on `version`, as
`ChatListStore.put` documents.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace

import trio

from svyaz.messaging.chatlist import ChatListEntry
from svyaz.messaging.errors import NotPublished, StoreUnavailable
from svyaz.messaging.events import Event
from svyaz.messaging.ids import private_participants
from svyaz.messaging.model import Cursors, Message
from svyaz.messaging.ports import Inserted


class MemoryMessageStore:
    def __init__(self) -> None:
        self.messages: dict[tuple[str, int], Message] = {}
        self.heads: dict[str, int] = {}                         # a hint: may lag, never ahead
        self.cursor_positions: dict[tuple[str, str], dict[str, int]] = {}
        self.insert_attempts: list[Message] = []

    # --- test helpers -----------------------------------------------------------------------------

    def plant(self, message: Message) -> None:
        """Store `message` as another process would have, without updating the head hint (so
        `head` has to probe past it). The unique client-id index is modelled by `insert`
        scanning the messages, so a planted copy is found however far its writer got."""
        assert (message.chat, message.seq) not in self.messages, "the test planted a seq twice"
        self.messages[(message.chat, message.seq)] = message

    def stored(self, chat: str) -> list[Message]:
        return sorted((m for (c, _), m in self.messages.items() if c == chat), key=lambda m: m.seq)

    # --- the port ---------------------------------------------------------------------------------

    async def head(self, chat: str) -> int:
        seq = self.heads.get(chat, 0)
        while (chat, seq + 1) in self.messages:
            seq += 1
        return seq

    async def insert(self, message: Message) -> Inserted:
        self.insert_attempts.append(message)
        holder = self.messages.get((message.chat, message.seq))
        if holder is not None:
            if (holder.sender, holder.client_id) != (message.sender, message.client_id):
                return Inserted(seq_taken=True)
            return Inserted(existing=holder)
        copy = self._by_fields(message.chat, message.sender, message.client_id)
        if copy is not None:
            return Inserted(existing=copy)  # the unique (chat, sender, client_id) index refused it
        self.messages[(message.chat, message.seq)] = message
        self.heads[message.chat] = max(self.heads.get(message.chat, 0), message.seq)
        return Inserted(stored=True)

    async def get(self, chat: str, seq: int) -> Message | None:
        return self.messages.get((chat, seq))

    async def seq_of(self, chat: str, sender: str, client_id: str) -> int | None:
        copy = self._by_fields(chat, sender, client_id)
        return copy.seq if copy is not None else None

    async def page(self, chat: str, seqs: range) -> list[Message]:
        return [self.messages[(chat, seq)] for seq in seqs if (chat, seq) in self.messages]

    async def replace(self, message: Message) -> None:
        if (message.chat, message.seq) in self.messages:
            self.messages[(message.chat, message.seq)] = message

    async def advance_cursor(self, chat: str, account: str, kind: str, seq: int) -> None:
        positions = self.cursor_positions.setdefault((chat, account), {})
        positions[kind] = max(positions.get(kind, 0), seq)

    async def cursor(self, chat: str, account: str, kind: str) -> int:
        return self.cursor_positions.get((chat, account), {}).get(kind, 0)

    async def cursors(self, chat: str) -> Cursors:
        delivered, read = {}, {}
        for account in private_participants(chat):
            positions = self.cursor_positions.get((chat, account), {})
            delivered[account], read[account] = positions.get("delivered", 0), positions.get("read", 0)
        return Cursors(delivered=delivered, read=read)

    def _by_fields(self, chat: str, sender: str, client_id: str) -> Message | None:
        return next((m for (c, _), m in self.messages.items()
                     if c == chat and m.sender == sender and m.client_id == client_id), None)


class MemoryChatList:
    """Entries by (account, chat); `put` is a compare-and-set on `version`."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], ChatListEntry] = {}
        self.puts = 0
        self.refused_puts = 0

    def entry(self, account: str, chat: str) -> ChatListEntry | None:
        return self.entries.get((account, chat))

    async def get(self, account: str, chat: str) -> ChatListEntry | None:
        return self.entries.get((account, chat))

    async def put(self, entry: ChatListEntry) -> bool:
        self.puts += 1
        key = (entry.account, entry.chat)
        stored = self.entries.get(key)
        if (stored.version if stored is not None else 0) != entry.version:
            self.refused_puts += 1
            return False
        self.entries[key] = replace(entry, version=entry.version + 1)
        return True

    async def list(self, account: str, *, limit: int) -> list[ChatListEntry]:
        mine = [entry for (owner, _), entry in self.entries.items() if owner == account]
        return sorted(mine, key=lambda entry: entry.last_at, reverse=True)[:limit]


class InterleavingChatList(MemoryChatList):
    """A chat list whose reads yield to other tasks before answering, so two writers started
    together both read the same version and one of them loses its compare-and-set."""

    async def get(self, account: str, chat: str) -> ChatListEntry | None:
        entry = self.entries.get((account, chat))
        await trio.lowlevel.checkpoint()
        return entry


class BrokenChatList:
    """A chat-list store that never answers."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error or StoreUnavailable("the chat list store did not answer")
        self.calls = 0

    async def get(self, account: str, chat: str) -> ChatListEntry | None:
        self.calls += 1
        raise self.error

    async def put(self, entry: ChatListEntry) -> bool:
        self.calls += 1
        raise self.error

    async def list(self, account: str, *, limit: int) -> list[ChatListEntry]:
        self.calls += 1
        raise self.error


class RecordingPublisher:
    """Keeps every acknowledged event in `events`; with `fail` set, acknowledges nothing.
    `before_publish`, if set, is awaited first (a test can hold one event back with it)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.attempts: list[Event] = []
        self.fail = False
        self.before_publish: Callable[[Event], Awaitable[None]] | None = None

    async def publish(self, event: Event) -> None:
        self.attempts.append(event)
        if self.before_publish is not None:
            await self.before_publish(event)
        if self.fail:
            raise NotPublished("Kafka did not acknowledge the event within 5 s; resend it")
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [event.kind for event in self.events]


class Directory:
    def __init__(self, accounts: Iterable[str]) -> None:
        self.accounts = set(accounts)

    async def exists(self, account: str) -> bool:
        return account in self.accounts


class TickingClock:
    """Each reading is one second after the previous one, so every message has its own time."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 1.0
        return self.now
