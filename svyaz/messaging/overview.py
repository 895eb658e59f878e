"""One chat list for an account: its private chats (the projected entries) and its groups and
channels (computed when read: the chat's head against the account's read cursor, so nothing is
ever written per member)."""

from __future__ import annotations

from dataclasses import dataclass

from svyaz.messaging.content import preview
from svyaz.messaging.ids import PRIVATE, chat_kind
from svyaz.messaging.ports import MessageStore, Memberships
from svyaz.messaging.service import PrivateChats


@dataclass(frozen=True)
class ChatLine:
    chat: str
    kind: str
    title: str          # the other participant of a private chat, else the group's or channel's name
    last_seq: int
    last_at: float
    preview: str
    preview_sender: str
    read_seq: int
    role: str = ""      # the account's role in a group or channel (owner, admin, member, subscriber)

    @property
    def unread(self) -> int:
        return max(0, self.last_seq - self.read_seq)


class ChatOverview:
    def __init__(self, private: PrivateChats, shared: dict[str, tuple[Memberships, MessageStore]],
                 index: Memberships) -> None:
        """`shared`: by chat kind (GROUP, CHANNEL), where its members and messages are kept;
        `index`: whose `chats_of` lists an account's groups and channels (one index for all kinds)."""
        self._private = private
        self._shared = shared
        self._index = index

    async def lines(self, account: str, *, limit: int = 100) -> list[ChatLine]:
        lines = [ChatLine(chat=e.chat, kind=PRIVATE, title=e.peer, last_seq=e.last_seq, last_at=e.last_at,
                          preview=e.preview, preview_sender=e.preview_sender, read_seq=e.read_seq)
                 for e in await self._private.chats(account, limit=limit)]
        for chat in await self._index.chats_of(account):
            line = await self._shared_line(account, chat)
            if line is not None:
                lines.append(line)
        lines.sort(key=lambda line: line.last_at, reverse=True)
        return lines[:limit]

    async def _shared_line(self, account: str, chat: str) -> ChatLine | None:
        kind = chat_kind(chat)
        members, messages = self._shared[kind]
        info = await members.info(chat)
        # The per-account index may still name a chat the account has left: membership decides.
        role = await members.role(chat, account) if info is not None else None
        if info is None or role is None:
            return None
        head = await messages.head(chat)
        last = await messages.get(chat, head) if head else None
        return ChatLine(chat=chat, kind=kind, title=info.title, last_seq=head,
                        last_at=last.sent_at if last else info.created_at,
                        preview=preview(last.text) if last and last.text else "",
                        preview_sender=last.sender if last else "",
                        read_seq=await messages.cursor(chat, account, "read"), role=role)
