"""`svyaz chat`: the Textual app, built by `make_app` (the tests build it the same way with a fake)."""

from __future__ import annotations

from textual.app import App

from svyaz.tui.backend import ChatBackend
from svyaz.tui.screens.chat import ChatScreen, Sleep
from svyaz.tui.state import Backoff


class ChatApp(App):
    TITLE = "Svyaz"
    CSS_PATH = "chat.tcss"

    def __init__(self, backend: ChatBackend, account: str | None = None, *, backoff: Backoff | None = None,
                 sleep: Sleep | None = None) -> None:
        super().__init__()
        self.backend = backend
        self.account = account
        self.backoff = backoff
        self.sleep = sleep

    def get_default_screen(self) -> ChatScreen:
        return ChatScreen(self.backend, self.account, backoff=self.backoff, sleep=self.sleep)

    async def on_unmount(self) -> None:
        await self.backend.close()


def make_app(backend: ChatBackend, *, account: str | None = None, backoff: Backoff | None = None,
             sleep: Sleep | None = None) -> ChatApp:
    """The chat app over `backend`, signed in as `account` (None: the device's current account).
    After a lost connection it waits `backoff` between attempts, with `sleep` (default
    `asyncio.sleep`; tests pass their own so that nothing waits for real)."""
    return ChatApp(backend, account, backoff=backoff, sleep=sleep)
