"""`ChatBackend` over the trio client SDK, run inside the Textual app's asyncio loop.

Why trio guest mode (`trio.lowlevel.start_guest_run`) and not a trio thread: the SDK stays on its
own terms (nurseries, cancel scopes, `open_account_client` as an `async with`) while every trio task
runs on the UI's thread, between the asyncio loop's callbacks. Results and live events therefore
reach the app without cross-thread queues or locks, and the app's exit cancels one nursery. Trio
only parks its I/O wait in a helper thread and asks asyncio (`call_soon_threadsafe`) to run its
next batch.

Each call from the app becomes one trio task in the guest run's nursery; its outcome settles an
asyncio future the app awaits (cancelling that await cancels the trio task). The connection lives
in its own task with its own cancel scope: switching accounts cancels it and opens the next one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from typing import Any, TypeVar

import trio

from svyaz.client.accounts import AccountBook
from svyaz.client.messaging import CallTimedOut, Messenger, new_client_id
from svyaz.client.session import open_account_client, refresh_tokens
from svyaz.errors import SvyazError
from svyaz.tui.backend import OnEvent, OnLost

T = TypeVar("T")


class NotConnected(SvyazError):
    code = "not_connected"


class ConnectionFailed(SvyazError):
    """The connection ended with an error that is not the SDK's own (a transport surprise): worth
    connecting again."""

    code = "connection_failed"


class MessengerBackend:
    def __init__(self, book: AccountBook, *, call_timeout_s: float = 30.0) -> None:
        self._book = book
        self._call_timeout_s = call_timeout_s
        self._token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None
        self._done: asyncio.Future | None = None
        self._session: trio.CancelScope | None = None
        self._messenger: Messenger | None = None

    def accounts(self) -> list[str]:
        return [entry.account for entry in self._book.entries()]

    # --- the guest run ----------------------------------------------------------------------------

    async def _start(self) -> None:
        if self._token is not None:
            return
        loop = asyncio.get_running_loop()
        ready: asyncio.Future = loop.create_future()
        self._done = loop.create_future()

        async def main() -> None:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                self._token = trio.lowlevel.current_trio_token()
                ready.set_result(None)
                await trio.sleep_forever()

        def done(outcome) -> None:
            self._token = self._nursery = None
            if not self._done.done():
                self._done.set_result(outcome)

        trio.lowlevel.start_guest_run(
            main, run_sync_soon_threadsafe=loop.call_soon_threadsafe, run_sync_soon_not_threadsafe=loop.call_soon,
            done_callback=done, host_uses_signal_set_wakeup_fd=True)
        await ready

    async def close(self) -> None:
        if self._token is None or self._nursery is None:
            return
        self._token.run_sync_soon(self._nursery.cancel_scope.cancel)
        await self._done

    async def _in_trio(self, job: Callable[[], Awaitable[T]]) -> T:
        """Run `job()` as a trio task; its result or error comes back to the awaiting asyncio task."""
        await self._start()
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        scope = trio.CancelScope()

        async def task() -> None:
            with scope:
                try:
                    result = await job()
                except Exception as err:  # handed to the awaiting side, which reports it
                    if not future.done():
                        future.set_exception(err)
                    return
                if not future.done():
                    future.set_result(result)
            if not future.done():
                future.cancel()

        self._token.run_sync_soon(self._nursery.start_soon, task)
        try:
            return await future
        except asyncio.CancelledError:
            if self._token is not None:
                self._token.run_sync_soon(scope.cancel)
            raise

    # --- the connection ---------------------------------------------------------------------------

    async def connect(self, account: str | None, *, on_event: OnEvent, on_lost: OnLost) -> str:
        await self._start()
        if self._session is not None:
            self._token.run_sync_soon(self._session.cancel)
        self._session = session = trio.CancelScope()
        self._messenger = None
        loop = asyncio.get_running_loop()
        ready: asyncio.Future = loop.create_future()
        account = account or self._book.current()

        async def fresh_access_token() -> str:
            return (await refresh_tokens(self._book, account)).access_token

        async def run() -> None:
            with session:
                try:
                    async with open_account_client(self._book, account) as client:
                        messenger = Messenger(client, account=account, call_timeout_s=self._call_timeout_s)
                        await messenger.whoami()
                        self._messenger = messenger
                        ready.set_result(messenger.account)
                        async with aclosing(messenger.events(fresh_access_token=fresh_access_token)) as events:
                            async for event in events:
                                on_event(event)
                except Exception as err:  # the connection's end, told to the app rather than raised
                    if not isinstance(err, SvyazError):
                        err = ConnectionFailed(f"{type(err).__name__}: {err}")
                    if self._session is session:
                        self._messenger = None
                    if not ready.done():
                        ready.set_exception(err)
                    else:
                        on_lost(err)

        self._token.run_sync_soon(self._nursery.start_soon, run)
        return await ready

    def _current(self) -> Messenger:
        if self._messenger is None:
            raise NotConnected("not connected to the node",
                               hint="wait for the reconnection (your text is kept), or f2 to sign in again")
        return self._messenger

    # --- calls ------------------------------------------------------------------------------------

    async def chats(self) -> list[dict[str, Any]]:
        messenger = self._current()
        return await self._in_trio(lambda: messenger.chats())

    async def history(self, chat: str, *, before: int | None = None, after: int | None = None
                      ) -> list[dict[str, Any]]:
        messenger = self._current()
        return await self._in_trio(lambda: messenger.history(chat, before=before, after=after))

    async def send(self, text: str, *, to: str | None = None, chat: str | None = None) -> dict[str, Any]:
        messenger = self._current()
        if to is not None:
            return await self._in_trio(lambda: messenger.send(to, text))
        # Messenger.send covers private chats only (so far); a group send is the same call with `chat`.
        return await self._in_trio(lambda: self._call(messenger, "message.send", chat=chat, text=text,
                                                      client_id=new_client_id()))

    async def comment(self, thread: str, text: str) -> dict[str, Any]:
        messenger = self._current()
        return await self._in_trio(lambda: self._call(messenger, "channel.comment", thread=thread, text=text,
                                                      client_id=new_client_id()))

    async def post(self, channel: str, text: str) -> dict[str, Any]:
        messenger = self._current()
        return await self._in_trio(lambda: self._call(messenger, "channel.post", channel=channel, text=text,
                                                      client_id=new_client_id()))

    async def channel_role(self, channel: str) -> str:
        """My role in `channel` as the chat list names it; "" if it is not among my chats."""
        messenger = self._current()
        chats = await self._in_trio(lambda: messenger.chats(limit=500))
        return next((chat.get("role") or "" for chat in chats if chat["chat"] == channel), "")

    async def create_group(self, title: str, members: list[str]) -> dict[str, Any]:
        messenger = self._current()
        return await self._in_trio(lambda: self._call(messenger, "group.create", title=title, members=members))

    async def create_channel(self, title: str) -> dict[str, Any]:
        messenger = self._current()
        return await self._in_trio(lambda: self._call(messenger, "channel.create", title=title))

    async def subscribe(self, channel: str) -> dict[str, Any]:
        messenger = self._current()
        return await self._in_trio(lambda: self._call(messenger, "channel.subscribe", channel=channel))

    async def invite(self, chat: str, accounts: list[str]) -> dict[str, Any]:
        messenger = self._current()
        return await self._in_trio(lambda: self._call(messenger, "group.invite", chat=chat, accounts=accounts))

    async def read(self, chat: str, seq: int) -> None:
        messenger = self._current()
        await self._in_trio(lambda: messenger.read(chat, seq))

    async def _call(self, messenger: Messenger, action: str, **args: Any) -> dict[str, Any]:
        with trio.move_on_after(self._call_timeout_s):
            return await messenger.client.call(action, **args)
        raise CallTimedOut(f"the node did not answer {action} within {self._call_timeout_s:g} s")
