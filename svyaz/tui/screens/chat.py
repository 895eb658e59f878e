"""The main screen: chats on the left, the open conversation and a composer on the right.

It stays connected by itself: a lost connection is retried with growing waits (`Backoff`, the wait
itself injectable so tests do not sleep), and once back the chat list and the open conversation
catch up from history (`after` the last message shown), the composer keeping what was typed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, ListView

from svyaz.errors import SvyazError
from svyaz.tui.backend import ChatBackend
from svyaz.tui.screens.dialogs import FormDialog, NewChatDialog, SwitchAccountDialog
from svyaz.tui.state import (
    Backoff,
    apply_event,
    apply_role_event,
    chat_icon,
    composer_target,
    count_comment,
    describe_error,
    listed_chat,
    mark_read,
    may_retry,
    merge_messages,
    new_private_chat,
    role_from_info,
    split_accounts,
    thread_id,
)
from svyaz.tui.widgets.chat_list import ChatList, ChatItem
from svyaz.tui.widgets.conversation import Conversation, MessageItem
from svyaz.tui.widgets.status import StatusBar

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
_FAILED = object()
# Pages of `after` history fetched to catch up an open conversation after a reconnection.
CATCH_UP_PAGES = 20


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
        Binding("f3", "new_group", "new group"),
        Binding("f4", "new_channel", "new channel"),
        Binding("f5", "subscribe", "subscribe"),
        Binding("f6", "invite", "invite"),
        Binding("f2", "switch_account", "account"),
        Binding("ctrl+o", "older", "older"),
        Binding("ctrl+r", "reload", "reload", show=False),
        Binding("escape", "back", "back", show=False),
    ]

    def __init__(self, backend: ChatBackend, account: str | None = None, *, backoff: Backoff | None = None,
                 sleep: Sleep | None = None) -> None:
        super().__init__()
        self.backend = backend
        self.me: str | None = account
        self.chats: list[dict[str, Any]] = []
        self.open_chat: dict[str, Any] | None = None
        self.messages: list[dict[str, Any]] = []
        self.roles: dict[str, str] = {}   # chat -> my role there, where known (channels: who may post)
        self.backoff = backoff or Backoff()
        self._sleep: Sleep = sleep or asyncio.sleep
        self.reconnecting = False

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

    @property
    def composer(self) -> Input:
        return self.query_one("#composer", Input)

    def on_mount(self) -> None:
        self.run_worker(self._connect(self.me), group="connect", exclusive=True)

    # --- calling the backend ----------------------------------------------------------------------

    async def _guard(self, call: Awaitable[T], *, refused: Callable[[Exception], None] | None = None) -> T | object:
        """The call's result, or _FAILED after telling the person what went wrong (no traceback)."""
        try:
            return await call
        except Exception as err:  # every failure ends here, in words: code, message, fix
            text = describe_error(err)
            self.status.error(text)
            self.notify(text, severity="error", timeout=8)
            if refused is not None:
                refused(err)
            return _FAILED

    async def _connect(self, account: str | None) -> None:
        self.status.info(f"connecting as {account or 'the current account'}…")
        me = await self._guard(self.backend.connect(account, on_event=self._on_event, on_lost=self._on_lost))
        if me is _FAILED:
            return
        self.me = me
        self.app.sub_title = me
        self.open_chat, self.messages, self.roles = None, [], {}
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
        if opened is not None and opened.get("kind") != "thread" and not any(c["chat"] == opened["chat"] for c in chats):
            chats = [opened] + chats  # a new chat the node lists only after its first message
        self.chats = chats
        self._show_chats()

    def _show_chats(self) -> None:
        selected = None if self.open_chat is None else self.open_chat.get("parent", self.open_chat)["chat"]
        self.query_one(ChatList).show(self.chats, selected=selected)

    def _show_conversation(self, *, keep: int | None = None) -> None:
        self.query_one(Conversation).show(self.messages, me=self.me, keep=keep)
        self._show_composer()

    def _show_composer(self) -> None:
        """The title line and where the composer's text goes; what was typed stays."""
        chat = self.open_chat
        target = composer_target(chat, role=None if chat is None else self.roles.get(chat["chat"]))
        if chat is None:
            title = "no chat open"
        else:
            name = escape(chat.get("title") or chat["chat"])
            mark = (" [dim]· you post here[/]" if target.action == "post" else
                    " [dim]· read-only[/]" if chat.get("kind") == "channel" else "")
            title = f"{chat_icon(chat)} [b]{name}[/]{mark}  [dim]{escape(chat['chat'])}[/]"
        self.query_one("#chat-title", Label).update(title)
        self.composer.disabled = target.action == "none"
        self.composer.placeholder = target.placeholder
        self.refresh_bindings()

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
        if chat.get("kind") == "channel" and chat["chat"] not in self.roles:
            await self._learn_role(chat["chat"])
        messages = await self._guard(self.backend.history(chat["chat"])) if chat.get("last_seq", 1) else []
        if messages is _FAILED:
            return
        self.open_chat, self.messages = chat, messages
        self._show_conversation()
        if not self.composer.disabled:
            self.composer.focus()
        else:
            self.query_one(Conversation).focus()
        await self._mark_read()

    async def _learn_role(self, channel: str) -> None:
        """Whether I may post to `channel`; unknown (read-only) if the node cannot say now."""
        try:
            role = await self.backend.channel_role(channel)
        except Exception:  # the history call that follows reports a connection problem in words
            return
        self.roles = {**self.roles, channel: role}

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
        chat = self.open_chat
        target = composer_target(chat, role=None if chat is None else self.roles.get(chat["chat"]))
        if target.action == "none":
            self.status.error(target.reason)
            return
        if target.action == "comment":
            result = await self._guard(self.backend.comment(target.chat, text))
        elif target.action == "post":
            result = await self._guard(self.backend.post(target.chat, text),
                                       refused=lambda err: self._post_refused(target.chat, err))
        elif target.to is not None:
            result = await self._guard(self.backend.send(text, to=target.to))
        else:
            result = await self._guard(self.backend.send(text, chat=target.chat))
        if result is _FAILED:
            return
        self.composer.value = ""
        self.status.info(f"sent to {result.get('chat', target.chat)} (#{result.get('seq')})")
        # Our own event will come too; showing the answer now keeps the screen in step if it is late.
        message = {"chat": result.get("chat", target.chat), "seq": result.get("seq"), "sender": self.me,
                   "client_id": result.get("client_id"), "text": text, "sent_at": result.get("sent_at")}
        if target.action == "post":
            message["comments"] = 0
        self._apply({"type": "event", "kind": "message.created", "chat": message["chat"], "actor": self.me,
                     "seq": message["seq"], "at": message["sent_at"], "message": message})

    def _post_refused(self, channel: str, err: Exception) -> None:
        """The node says I may not post here after all (a role taken away): read-only from now on;
        the text stays in the composer, ready to become a comment on a post."""
        if getattr(err, "code", None) in ("not_a_participant", "forbidden"):
            self.roles = {**self.roles, channel: "subscriber"}
            self._show_composer()
            self.query_one(Conversation).focus()

    # --- forms: new group or channel, subscribe, invite ---------------------------------------------

    def action_new_group(self) -> None:
        async def submit(values: dict[str, str]) -> dict[str, Any]:
            return await self.backend.create_group(values["title"].strip(), split_accounts(values["members"])[0])

        self.app.push_screen(FormDialog("group", submit), self._joined)

    def action_new_channel(self) -> None:
        async def submit(values: dict[str, str]) -> dict[str, Any]:
            return await self.backend.create_channel(values["title"].strip())

        self.app.push_screen(FormDialog("channel", submit), self._joined)

    def action_subscribe(self) -> None:
        async def submit(values: dict[str, str]) -> dict[str, Any]:
            return await self.backend.subscribe(values["channel"].strip())

        self.app.push_screen(FormDialog("subscribe", submit), self._joined)

    def _joined(self, info: dict[str, Any] | None) -> None:
        """A group or channel created or subscribed to: list it, note my role, open it."""
        if not info or self.me is None:
            return
        self.roles = {**self.roles, info["chat"]: role_from_info(info, self.me)}
        self.status.info(f"{'joined' if info.get('owner') != self.me else 'created'} "
                         f"{info.get('kind', 'chat')} {info.get('title')} ({info['chat']})")
        self.run_worker(self._enter(info), group="open", exclusive=True)

    async def _enter(self, info: dict[str, Any]) -> None:
        await self._reload_chats()
        chat = next((c for c in self.chats if c["chat"] == info["chat"]), None)
        if chat is None:
            chat = listed_chat(info)
            self.chats = [chat] + self.chats
            self._show_chats()
        await self._open(chat)

    def action_invite(self) -> None:
        chat = self.open_chat
        if chat is None or chat.get("kind") != "group":
            self.status.error("open a group first: f6 invites to the open group")
            return
        title = chat.get("title") or chat["chat"]

        async def submit(values: dict[str, str]) -> dict[str, Any]:
            return await self.backend.invite(chat["chat"], split_accounts(values["accounts"])[0])

        def done(result: dict[str, Any] | None) -> None:
            if result is not None:
                added = result.get("added") or []
                self.status.info(f"added {', '.join(added)} to {title}" if added else
                                 f"everyone named is in {title} already")

        self.app.push_screen(FormDialog("invite", submit, title=title), done)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "invite":  # shown dimmed outside a group
            return True if self.open_chat is not None and self.open_chat.get("kind") == "group" else None
        return True

    # --- live events ------------------------------------------------------------------------------

    def on_live_event(self, message: LiveEvent) -> None:
        self._apply(message.event)

    def _apply(self, event: dict[str, Any]) -> None:
        open_id = None if self.open_chat is None else self.open_chat["chat"]
        roles = apply_role_event(self.roles, event, me=self.me or "")
        if roles != self.roles:
            self.roles = roles
            self._show_composer()
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
        elif open_id is not None and self.open_chat.get("kind") == "channel":
            counted = count_comment(self.messages, event, channel=open_id)
            if counted != self.messages:
                self.messages = counted
                self._show_conversation(keep=self.query_one(Conversation).highlighted_seq())

    # --- staying connected ------------------------------------------------------------------------

    def on_connection_lost(self, message: ConnectionLost) -> None:
        self.run_worker(self._reconnect(message.error), group="connect", exclusive=True)

    async def _reconnect(self, error: Exception) -> None:
        """Connect again as the same account, waiting longer after each failure, until it works or
        the node refuses the sign-in (that needs the person: f2, or `svyaz login`)."""
        self.reconnecting = True
        try:
            attempt = 0
            while may_retry(error):
                attempt += 1
                delay = self.backoff.delay(attempt, retry_after_s=getattr(error, "retry_after_s", None))
                self.status.busy(f"reconnecting… (attempt {attempt} in {delay:g} s) — {describe_error(error)}")
                await self._sleep(delay)
                self.status.busy(f"reconnecting… (attempt {attempt})")
                try:
                    me = await self.backend.connect(self.me, on_event=self._on_event, on_lost=self._on_lost)
                except Exception as err:  # judged by may_retry at the top of the loop
                    error = err
                    continue
                self.status.info(f"reconnected as {me}")
                await self._catch_up()
                return
        finally:
            self.reconnecting = False
        text = f"{describe_error(error)} — stopped reconnecting: f2 to sign in again"
        self.status.error(text)
        self.notify(text, severity="error", timeout=15)

    async def _catch_up(self) -> None:
        """What happened while away: the chat list again, and the open conversation's messages
        after the last one shown (merged by seq: nothing missed, nothing twice)."""
        await self._reload_chats()
        chat = self.open_chat
        if chat is None:
            return
        if not self.messages:
            fresh = await self._guard(self.backend.history(chat["chat"]))
            if fresh is _FAILED:
                return
        else:
            fresh, after = [], self.messages[-1]["seq"]
            for _ in range(CATCH_UP_PAGES):
                page = await self._guard(self.backend.history(chat["chat"], after=after))
                if page is _FAILED:
                    return
                if not page:
                    break
                fresh += page
                after = page[-1]["seq"]
        if fresh:
            self.messages = merge_messages(self.messages, fresh)
            self._show_conversation()
        await self._mark_read()

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
