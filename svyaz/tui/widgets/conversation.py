"""One chat's messages, oldest at the top and newest at the bottom; channel posts show comment counts."""

from __future__ import annotations

import datetime
from typing import Any

from rich.markup import escape
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Label, ListItem, ListView


def message_line(message: dict[str, Any], *, me: str | None) -> str:
    when = message.get("sent_at")
    stamp = datetime.datetime.fromtimestamp(when).strftime("%H:%M") if isinstance(when, (int, float)) else ""
    sender = message.get("sender") or "?"
    who = "[b $success]you[/]" if sender == me else f"[b]{escape(sender)}[/]"
    if message.get("deleted"):
        body = "[i dim]deleted[/]"
    elif message.get("sealed"):
        body = "[i dim]🔒 sealed: `svyaz secret read` opens it on the device that holds the chat[/]"
    else:
        body = escape(message.get("text") or "")
        if message.get("edited_at"):
            body += " [dim](edited)[/]"
    comments = message.get("comments")
    tail = f"  [dim]💬 {comments} comments (Enter)[/]" if comments is not None else ""
    return f"[dim]{stamp}[/] {who}: {body}{tail}"


class MessageItem(ListItem):
    DEFAULT_CSS = """
    MessageItem { height: auto; padding: 0 1; }
    MessageItem Label { width: 1fr; }
    """

    def __init__(self, message: dict[str, Any], *, me: str | None) -> None:
        super().__init__(Label(message_line(message, me=me)))
        self.message = message


class Conversation(ListView):
    """Up on the first message (or ctrl+o anywhere) asks for the page before it."""

    DEFAULT_CSS = """
    Conversation { height: 1fr; }
    """
    BINDINGS = [Binding("up", "older_or_up", "older", show=False)]

    class WantsOlder(Message):
        pass

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.messages: list[dict[str, Any]] = []

    def show(self, messages: list[dict[str, Any]], *, me: str | None, keep: int | None = None) -> None:
        """Show `messages`; the highlight goes to the newest, or stays on the message `keep` (a seq)."""
        self.messages = messages
        self.clear()
        self.extend(MessageItem(message, me=me) for message in messages)
        if not messages:
            return
        position = next((i for i, m in enumerate(messages) if m["seq"] == keep), None)
        self.index = len(messages) - 1 if position is None else position
        if position is None:
            self.call_after_refresh(self.scroll_end, animate=False)

    def highlighted_seq(self) -> int | None:
        """The seq of the highlighted message, to keep the highlight there when the list is redrawn."""
        if self.index is None or not 0 <= self.index < len(self.messages):
            return None
        return self.messages[self.index].get("seq")

    def action_older_or_up(self) -> None:
        if not self.index:
            self.post_message(self.WantsOlder())
        else:
            self.action_cursor_up()

    def text(self) -> str:
        return "\n".join(str(item.query_one(Label).content) for item in self.query(MessageItem))
