"""What the messaging use cases need from the outside world. Adapters: `store` (pymongo) and
`bus` (Kafka); unit tests use in-memory fakes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from svyaz.messaging.chatlist import ChatListEntry
from svyaz.messaging.events import Event
from svyaz.messaging.model import ChatInfo, Cursors, Message
from svyaz.messaging.safety import Report


@dataclass(frozen=True)
class Inserted:
    """The outcome of inserting a message: stored as given, or a copy with the same client id
    already held (`existing`), or the sequence number was taken by another message."""

    stored: bool = False
    existing: Message | None = None
    seq_taken: bool = False


class MessageStore(Protocol):
    async def head(self, chat: str) -> int:
        """The highest sequence number stored in `chat` (0 for none); may lag, never run ahead."""

    async def insert(self, message: Message) -> Inserted: ...

    async def get(self, chat: str, seq: int) -> Message | None: ...

    async def seq_of(self, chat: str, sender: str, client_id: str) -> int | None:
        """Where `sender`'s message `client_id` is stored in `chat` (None if it is not): how a
        message is found from another node, whose sequence numbers are its own."""

    async def page(self, chat: str, seqs: range) -> list[Message]:
        """The stored messages among `seqs`, ascending."""

    async def replace(self, message: Message) -> None: ...

    async def advance_cursor(self, chat: str, account: str, kind: str, seq: int) -> None:
        """Move `account`'s `kind` cursor ("delivered" or "read") to `seq` unless it is further."""

    async def cursors(self, chat: str) -> Cursors: ...

    async def cursor(self, chat: str, account: str, kind: str) -> int:
        """`account`'s `kind` position in `chat` (0 if none)."""


class Memberships(Protocol):
    """Who belongs to a group or channel, and with which role (model.OWNER ... SUBSCRIBER).
    `chats_of` is the per-account index a gateway and the chat list read in one lookup."""

    async def info(self, chat: str) -> ChatInfo | None: ...

    async def create(self, info: ChatInfo) -> None: ...

    async def role(self, chat: str, account: str) -> str | None: ...

    async def set_role(self, chat: str, account: str, role: str) -> None: ...

    async def remove(self, chat: str, account: str) -> bool: ...

    async def members(self, chat: str, *, limit: int) -> list[tuple[str, str]]:
        """(account, role) pairs, for showing a member list; not for the hot path."""

    async def count(self, chat: str) -> int: ...

    async def chats_of(self, account: str) -> list[str]: ...


class ChatListStore(Protocol):
    async def get(self, account: str, chat: str) -> ChatListEntry | None: ...

    async def put(self, entry: ChatListEntry) -> bool:
        """Store `entry` with version + 1 if the stored one still has `entry.version` (version 0:
        there is none yet). False if it changed meanwhile."""

    async def list(self, account: str, *, limit: int) -> list[ChatListEntry]:
        """The account's entries, most recent activity first."""


class EventPublisher(Protocol):
    async def publish(self, event: Event) -> None:
        """Return once Kafka acknowledged the event; NotPublished otherwise."""


class AccountDirectory(Protocol):
    async def exists(self, account: str) -> bool: ...


class BlockStore(Protocol):
    async def blocks(self, blocker: str, account: str) -> bool:
        """Whether `blocker` has blocked `account`."""

    async def add(self, blocker: str, account: str, at: float) -> bool: ...

    async def remove(self, blocker: str, account: str) -> bool: ...

    async def blocked_by(self, blocker: str) -> list[str]: ...


class ReportStore(Protocol):
    async def add(self, report: Report) -> None: ...

    async def open(self, *, limit: int) -> list[Report]: ...


class PresenceStore(Protocol):
    async def set(self, account: str, *, online: bool, at: float) -> None: ...

    async def get(self, account: str) -> tuple[bool, float] | None:
        """(online, since or last seen), or None if never seen."""


class HomeNode(Protocol):
    """The home node of groups and channels in other regions, reached through federation."""

    async def run(self, chat: str, actor: str, action: str, args: dict[str, Any]) -> dict[str, Any]:
        """Run `action` (a GroupChats or Channels method name) on `chat`'s home node as `actor`
        and return its result as the home's `shared_commands` put it; raises NotConfirmed if the
        home does not answer in time, RefusedAtHome (with the home's code) if it refuses."""
