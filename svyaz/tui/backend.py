"""The port the chat app talks to: a handful of awaitables on the app's own (asyncio) loop.

`MessengerBackend` implements it over the trio SDK; tests use an in-memory fake. Results are the
node's data as docs/protocol.md describes them (plain dicts); failures are `SvyazError`s (a node's
refusal is `RemoteError` with `code` and `hint`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from svyaz.errors import SvyazError

OnEvent = Callable[[dict[str, Any]], None]
OnLost = Callable[[SvyazError], None]


class ChatBackend(Protocol):
    def accounts(self) -> list[str]:
        """The accounts on this device, for switching."""
        ...

    async def connect(self, account: str | None, *, on_event: OnEvent, on_lost: OnLost) -> str:
        """(Re)connect as `account` (None: the device's current one), dropping any earlier
        connection; returns the account. `on_event` gets each live event once, on the app's loop;
        `on_lost` the error that ended the connection."""
        ...

    async def close(self) -> None: ...

    async def chats(self) -> list[dict[str, Any]]: ...

    async def history(self, chat: str, *, before: int | None = None, after: int | None = None
                      ) -> list[dict[str, Any]]:
        """Ascending: the newest page, or the page before `before`, or after `after` (catching up)."""
        ...

    async def send(self, text: str, *, to: str | None = None, chat: str | None = None) -> dict[str, Any]:
        """message.send `to` an account (private) or into a group `chat`."""
        ...

    async def comment(self, thread: str, text: str) -> dict[str, Any]: ...

    async def post(self, channel: str, text: str) -> dict[str, Any]:
        """channel.post with a fresh client id (owner and admins); answers as `send`."""
        ...

    async def channel_role(self, channel: str) -> str:
        """My role in `channel` I am in: "owner", "admin" or "subscriber"."""
        ...

    async def create_group(self, title: str, members: list[str]) -> dict[str, Any]:
        """group.create: `chat`, `kind`, `title`, `owner`, `created_at`."""
        ...

    async def create_channel(self, title: str) -> dict[str, Any]:
        """channel.create: as `create_group`."""
        ...

    async def subscribe(self, channel: str) -> dict[str, Any]:
        """channel.subscribe: the channel, as `create_channel` describes it."""
        ...

    async def invite(self, chat: str, accounts: list[str]) -> dict[str, Any]:
        """group.invite: `added` (the accounts that were not members yet)."""
        ...

    async def read(self, chat: str, seq: int) -> None: ...
