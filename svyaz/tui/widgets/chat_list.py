"""The chat list: kind icon, title, unread badge and a one-line preview per chat, newest first."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual.widgets import Label, ListItem, ListView

from svyaz.tui.state import SECRET_ICON, chat_icon, is_secret


def chat_line(chat: dict[str, Any]) -> str:
    unread = chat.get("unread") or 0
    badge = f" [b reverse] {unread} [/]" if unread else ""
    sender = chat.get("preview_sender")
    preview = chat.get("preview") or ""
    preview = f"{sender}: {preview}" if sender and preview else preview
    if is_secret(chat["chat"]) and not preview:
        preview = f"{SECRET_ICON} secret chat"
    return (f"{chat_icon(chat)} [b]{escape(chat.get('title') or chat['chat'])}[/]{badge}\n"
            f"[dim]{escape(preview[:60])}[/]")


class ChatItem(ListItem):
    DEFAULT_CSS = """
    ChatItem { height: 2; padding: 0 1; }
    ChatItem Label { width: 1fr; }
    """

    def __init__(self, chat: dict[str, Any]) -> None:
        super().__init__(Label(chat_line(chat)))
        self.chat = chat


class ChatList(ListView):
    DEFAULT_CSS = """
    ChatList { width: 34; border-right: solid $primary-darken-2; }
    """

    def show(self, chats: list[dict[str, Any]], *, selected: str | None = None) -> None:
        """Replace the rows, keeping the highlight on `selected` if it is still listed."""
        self.clear()
        self.extend(ChatItem(chat) for chat in chats)
        position = next((i for i, chat in enumerate(chats) if chat["chat"] == selected), None)
        if position is not None:
            self.index = position

    def text(self) -> str:
        """What the rows say, for tests and screen readers: one line per chat."""
        return "\n".join(str(item.query_one(Label).content).replace("\n", " | ")
                         for item in self.query(ChatItem))
