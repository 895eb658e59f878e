"""Storing a new message at the next sequence number of its chat, exactly once.

Used by every kind of chat (private, group, channel posts, comment threads). Within this process a
lock per chat makes writers take turns; between processes the store's unique `<chat>#<seq>` id
lets exactly one insert have a number, and the loser asks for the head again. A client id already
stored returns the stored message instead of a second copy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from collections import OrderedDict
from contextlib import asynccontextmanager
from dataclasses import replace

from svyaz.messaging.errors import StoreUnavailable
from svyaz.messaging.locks import ChatLocks
from svyaz.messaging.model import Message
from svyaz.messaging.ports import MessageStore

_SEQ_ATTEMPTS = 32


# Heads remembered per process; the least recently written chats are forgotten first (a forgotten
# head is read from the store again).
MAX_HEADS = 100_000


class SequencedWriter:
    def __init__(self, messages: MessageStore) -> None:
        self.messages = messages
        self._locks = ChatLocks()
        self._heads: OrderedDict[str, int] = OrderedDict()

    @asynccontextmanager
    async def locked(self, chat: str) -> AsyncIterator[None]:
        """This process's turn at `chat`, for changes to its messages."""
        async with self._locks.hold(chat):
            yield

    async def store(self, draft: Message, *, then: Callable[[Message], Awaitable[None]] | None = None) -> Message:
        """`draft` stored at its chat's next seq (its own `seq` is ignored), or the message its
        client id already produced. `then(message)` runs before the chat's turn ends: publishing
        there keeps a chat's events in the order of its sequence numbers."""
        async with self._locks.hold(draft.chat):
            # A resend is told apart by the store itself: its unique client-id index refuses a
            # second copy and the insert answers with the first (no lookup before every insert).
            message = await self._insert(draft)
            if then is not None:
                await then(message)
            return message

    async def _insert(self, draft: Message) -> Message:
        seq = await self._next_seq(draft.chat)
        for _ in range(_SEQ_ATTEMPTS):
            outcome = await self.messages.insert(replace(draft, seq=seq))
            if outcome.existing is not None:
                return outcome.existing
            if outcome.stored:
                self._remember(draft.chat, seq)
                return replace(draft, seq=seq)
            # Another process took this number: ask the store where the chat is now.
            seq = max(seq, await self.messages.head(draft.chat)) + 1
        raise StoreUnavailable(f"no free sequence number in {draft.chat} after {_SEQ_ATTEMPTS} attempts")

    async def _next_seq(self, chat: str) -> int:
        head = self._heads.get(chat)
        if head is None:
            head = await self.messages.head(chat)
            self._remember(chat, head)
        return head + 1

    def _remember(self, chat: str, head: int) -> None:
        self._heads[chat] = head
        self._heads.move_to_end(chat)
        if len(self._heads) > MAX_HEADS:
            self._heads.popitem(last=False)
