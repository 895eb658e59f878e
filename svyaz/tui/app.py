"""`svyaz chat`: the Textual app, built by `make_app` (the tests build it the same way with a fake)."""

from __future__ import annotations

from textual.app import App

from svyaz.tui.backend import ChatBackend
from svyaz.tui.screens.chat import ChatScreen


class ChatApp(App):
    TITLE = "Svyaz"
    CSS_PATH = "chat.tcss"

    def __init__(self, backend: ChatBackend, account: str | None = None) -> None:
        super().__init__()
        self.backend = backend
        self.account = account

    def get_default_screen(self) -> ChatScreen:
        return ChatScreen(self.backend, self.account)

    async def on_unmount(self) -> None:
        await self.backend.close()


def make_app(backend: ChatBackend, *, account: str | None = None) -> ChatApp:
    """The chat app over `backend`, signed in as `account` (None: the device's current account)."""
    return ChatApp(backend, account)
