"""Storing a new message at the next sequence number of its chat, exactly once.

Used by every kind of chat (private, group, channel posts, comment threads). Within this process a
lock per chat makes writers take turns; between processes the store's unique `<chat>#<seq>` id
lets exactly one insert have a number, and the loser asks for the head again. A client id already
stored returns the stored message instead of a second copy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

from svyaz.messaging.errors import StoreUnavailable
from svyaz.messaging.locks import ChatLocks
from svyaz.messaging.model import Message
from svyaz.messaging.ports import MessageStore

_SEQ_ATTEMPTS = 32


class SequencedWriter:
    def __init__(self, messages: MessageStore) -> None:
        self.messages = messages
        self._locks = ChatLocks()
        self._heads: dict[str, int] = {}

    @asynccontextmanager
    async def locked(self, chat: str) -> AsyncIterator[None]:
        """This process's turn at `chat`, for changes to its messages."""
        async with self._locks.hold(chat):
            yield

    async def store(self, draft: Message) -> Message:
        """`draft` stored at its chat's next seq (its own `seq` is ignored), or the message its
        client id already produced."""
        async with self._locks.hold(draft.chat):
            known = await self.messages.by_client_id(draft.chat, draft.sender, draft.client_id)
            return known if known is not None else await self._insert(draft)

    async def _insert(self, draft: Message) -> Message:
        seq = await self._next_seq(draft.chat)
        for _ in range(_SEQ_ATTEMPTS):
            outcome = await self.messages.insert(replace(draft, seq=seq))
            if outcome.existing is not None:
                return outcome.existing
            if outcome.stored:
                self._heads[draft.chat] = seq
                return replace(draft, seq=seq)
            # Another process took this number: ask the store where the chat is now.
            seq = max(seq, await self.messages.head(draft.chat)) + 1
        raise StoreUnavailable(f"no free sequence number in {draft.chat} after {_SEQ_ATTEMPTS} attempts")

    async def _next_seq(self, chat: str) -> int:
        head = self._heads.get(chat)
        if head is None:
            head = self._heads[chat] = await self.messages.head(chat)
        return head + 1
