"""The main screen: chats on the left, the open conversation and a composer on the right."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, ListView

from svyaz.errors import SvyazError
from svyaz.tui.backend import ChatBackend
from svyaz.tui.screens.dialogs import NewChatDialog, SwitchAccountDialog
from svyaz.tui.state import (
    apply_event,
    composer_target,
    describe_error,
    mark_read,
    merge_messages,
    new_private_chat,
    thread_id,
)
from svyaz.tui.widgets.chat_list import ChatList, ChatItem
from svyaz.tui.widgets.conversation import Conversation, MessageItem
from svyaz.tui.widgets.status import StatusBar

T = TypeVar("T")
_FAILED = object()


class LiveEvent(Message):
    def __init__(self, event: dict[str, Any]) -> None:
        super().__init__()
        self.event = event


class ConnectionLost(Message):
    def __init__(self, error: SvyazError) -> None:
        super().__init__()
        self.error = error


class ChatScreen(Screen):
    BINDINGS = [
        Binding("ctrl+n", "new_chat", "new chat"),
        Binding("f2", "switch_account", "switch account"),
        Binding("ctrl+o", "older", "older messages"),
        Binding("ctrl+r", "reload", "reload"),
        Binding("escape", "back", "back"),
    ]

    def __init__(self, backend: ChatBackend, account: str | None = None) -> None:
        super().__init__()
        self.backend = backend
        self.me: str | None = account
        self.chats: list[dict[str, Any]] = []
        self.open_chat: dict[str, Any] | None = None
        self.messages: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield ChatList(id="chats")
            with Vertical(id="right"):
                yield Label("no chat open", id="chat-title")
                yield Conversation(id="conversation")
                yield Input(placeholder="pick a chat on the left", id="composer", disabled=True)
        yield StatusBar("connecting…", id="status")
        yield Footer()

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    def on_mount(self) -> None:
        self.run_worker(self._connect(self.me), group="connect", exclusive=True)

    # --- calling the backend ----------------------------------------------------------------------

    async def _guard(self, call: Awaitable[T]) -> T | object:
        """The call's result, or _FAILED after telling the person what went wrong (no traceback)."""
        try:
            return await call
        except Exception as err:  # every failure ends here, in words: code, message, fix
            text = describe_error(err)
            self.status.error(text)
            self.notify(text, severity="error", timeout=8)
            return _FAILED

    async def _connect(self, account: str | None) -> None:
        self.status.info(f"connecting as {account or 'the current account'}…")
        me = await self._guard(self.backend.connect(account, on_event=self._on_event, on_lost=self._on_lost))
        if me is _FAILED:
            return
        self.me = me
        self.app.sub_title = me
        self.open_chat, self.messages = None, []
        self._show_conversation()
        self.status.info(f"signed in as {me}")
        await self._reload_chats()
        self.query_one(ChatList).focus()

    def _on_event(self, event: dict[str, Any]) -> None:
        self.post_message(LiveEvent(event))

    def _on_lost(self, error: SvyazError) -> None:
        self.post_message(ConnectionLost(error))

    async def _reload_chats(self) -> None:
        chats = await self._guard(self.backend.chats())
        if chats is _FAILED:
            return
        opened = self.open_chat
        if opened is not None and opened.get("kind") == "private" and not any(c["chat"] == opened["chat"] for c in chats):
            chats = [opened] + chats  # a new chat the node lists only after its first message
        self.chats = chats
        self._show_chats()

    def _show_chats(self) -> None:
        selected = None if self.open_chat is None else self.open_chat.get("parent", self.open_chat)["chat"]
        self.query_one(ChatList).show(self.chats, selected=selected)

    def _show_conversation(self, *, keep: int | None = None) -> None:
        chat = self.open_chat
        self.query_one("#chat-title", Label).update(
            "no chat open" if chat is None else f"{chat.get('title') or chat['chat']}  [dim]{chat['chat']}[/]")
        self.query_one(Conversation).show(self.messages, me=self.me, keep=keep)
        target = composer_target(chat)
        composer = self.query_one("#composer", Input)
        composer.disabled = target.action == "none"
        composer.placeholder = (target.reason if target.action == "none" else
                                "comment… (Enter sends)" if target.action == "comment" else "message… (Enter sends)")

    # --- opening chats ----------------------------------------------------------------------------

    @on(ListView.Selected, "#chats")
    def _chat_chosen(self, event: ListView.Selected) -> None:
        if isinstance(event.item, ChatItem):
            self.run_worker(self._open(event.item.chat), group="open", exclusive=True)

    @on(ListView.Selected, "#conversation")
    def _message_chosen(self, event: ListView.Selected) -> None:
        chat = self.open_chat
        if chat is None or chat.get("kind") != "channel" or not isinstance(event.item, MessageItem):
            return
        post = event.item.message
        thread = {"chat": thread_id(chat["chat"], post["seq"]), "kind": "thread", "parent": chat,
                  "title": f"comments on {chat.get('title')} #{post['seq']}"}
        self.run_worker(self._open(thread), group="open", exclusive=True)

    async def _open(self, chat: dict[str, Any]) -> None:
        messages = await self._guard(self.backend.history(chat["chat"])) if chat.get("last_seq", 1) else []
        if messages is _FAILED:
            return
        self.open_chat, self.messages = chat, messages
        self._show_conversation()
        composer = self.query_one("#composer", Input)
        if not composer.disabled:
            composer.focus()
        else:
            self.query_one(Conversation).focus()
        await self._mark_read()

    async def _mark_read(self) -> None:
        chat = self.open_chat
        if chat is None or chat.get("kind") == "thread" or not self.messages:
            return
        last = self.messages[-1]["seq"]
        listed = next((c for c in self.chats if c["chat"] == chat["chat"]), None)
        if listed is not None and listed.get("read_seq", 0) >= last and not listed.get("unread"):
            return
        if await self._guard(self.backend.read(chat["chat"], last)) is _FAILED:
            return
        self.chats = mark_read(self.chats, chat["chat"], last)
        self._show_chats()

    # --- writing ----------------------------------------------------------------------------------

    @on(Input.Submitted, "#composer")
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if text:
            self.run_worker(self._send(text), group="send")

    async def _send(self, text: str) -> None:
        target = composer_target(self.open_chat)
        if target.action == "none":
            self.status.error(target.reason)
            return
        if target.action == "comment":
            result = await self._guard(self.backend.comment(target.chat, text))
        elif target.to is not None:
            result = await self._guard(self.backend.send(text, to=target.to))
        else:
            result = await self._guard(self.backend.send(text, chat=target.chat))
        if result is _FAILED:
            return
        self.query_one("#composer", Input).value = ""
        self.status.info(f"sent to {result.get('chat', target.chat)} (#{result.get('seq')})")
        # Our own event will come too; showing the answer now keeps the screen in step if it is late.
        message = {"chat": result.get("chat", target.chat), "seq": result.get("seq"), "sender": self.me,
                   "client_id": result.get("client_id"), "text": text, "sent_at": result.get("sent_at")}
        self._apply({"type": "event", "kind": "message.created", "chat": message["chat"], "actor": self.me,
                     "seq": message["seq"], "at": message["sent_at"], "message": message})

    # --- live events ------------------------------------------------------------------------------

    def on_live_event(self, message: LiveEvent) -> None:
        self._apply(message.event)

    def _apply(self, event: dict[str, Any]) -> None:
        open_id = None if self.open_chat is None else self.open_chat["chat"]
        self.chats, reload = apply_event(self.chats, event, me=self.me or "", open_chat=open_id)
        if reload:
            self.run_worker(self._reload_chats(), group="reload", exclusive=True)
        else:
            self._show_chats()
        shown = event.get("message")
        if event.get("chat") == open_id and event.get("kind", "").startswith("message.") and shown:
            self.messages = merge_messages(self.messages, [dict(shown, seq=shown.get("seq", event.get("seq")))])
            self._show_conversation()
            if event.get("kind") == "message.created" and event.get("actor") != self.me:
                self.run_worker(self._mark_read(), group="read")

    def on_connection_lost(self, message: ConnectionLost) -> None:
        text = describe_error(message.error)
        self.status.error(f"{text} — f2 to reconnect")
        self.notify(text, severity="error", timeout=8)

    # --- keys -------------------------------------------------------------------------------------

    def action_new_chat(self) -> None:
        def chosen(peer: str | None) -> None:
            if not peer or self.me is None:
                return
            chat = next((c for c in self.chats if c.get("peer") == peer), None) or new_private_chat(self.me, peer)
            if chat not in self.chats:
                self.chats = [chat] + self.chats
                self._show_chats()
            self.run_worker(self._open(chat), group="open", exclusive=True)

        self.app.push_screen(NewChatDialog(), chosen)

    def action_switch_account(self) -> None:
        def chosen(account: str | None) -> None:
            if account:
                self.chats = []
                self._show_chats()
                self.run_worker(self._connect(account), group="connect", exclusive=True)

        try:
            accounts = self.backend.accounts()
        except SvyazError as err:
            self.status.error(describe_error(err))
            return
        self.app.push_screen(SwitchAccountDialog(accounts, self.me), chosen)

    def action_older(self) -> None:
        self.run_worker(self._older(), group="older", exclusive=True)

    @on(Conversation.WantsOlder)
    def _wants_older(self) -> None:
        self.action_older()

    async def _older(self) -> None:
        if self.open_chat is None or not self.messages:
            return
        first = self.messages[0]["seq"]
        page = await self._guard(self.backend.history(self.open_chat["chat"], before=first))
        if page is _FAILED:
            return
        if not page:
            self.status.info("no older messages")
            return
        self.messages = merge_messages(self.messages, page)
        self._show_conversation(keep=page[-1]["seq"])

    def action_reload(self) -> None:
        self.run_worker(self._reload_chats(), group="reload", exclusive=True)

    def action_back(self) -> None:
        chat = self.open_chat
        if chat is not None and chat.get("kind") == "thread":
            self.run_worker(self._open(chat["parent"]), group="open", exclusive=True)
        else:
            self.query_one(ChatList).focus()
