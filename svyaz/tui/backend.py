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

    async def history(self, chat: str, *, before: int | None = None) -> list[dict[str, Any]]:
        """Ascending: the newest page, or the page before `before`."""
        ...

    async def send(self, text: str, *, to: str | None = None, chat: str | None = None) -> dict[str, Any]:
        """message.send `to` an account (private) or into a group `chat`."""
        ...

    async def comment(self, thread: str, text: str) -> dict[str, Any]: ...

    async def read(self, chat: str, seq: int) -> None: ...
