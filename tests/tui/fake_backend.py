"""An in-memory ChatBackend: a few accounts, their chats and messages; records every call."""

from __future__ import annotations

from typing import Any

from svyaz.client.connection import RemoteError
from svyaz.tui.backend import OnEvent, OnLost

T0 = 1_800_000_000.0


class FakeBackend:
    def __init__(self, chats: dict[str, list[dict[str, Any]]], history: dict[str, list[dict[str, Any]]],
                 *, current: str) -> None:
        self.chat_lists = chats          # account -> chat.list answer
        self.histories = history         # chat id -> every message, ascending
        self.current = current
        self.calls: list[tuple] = []
        # method name -> the refusal it answers with next, or a list of them (one per call)
        self.fail: dict[str, Exception | list[Exception]] = {}
        self.account: str | None = None
        self._on_event: OnEvent | None = None
        self._on_lost: OnLost | None = None
        self.page = 50
        self.owners: dict[str, str] = {}         # group or channel -> its owner
        self.admins: set[tuple[str, str]] = set()  # (chat, account)
        self.members: dict[str, list[str]] = {}  # group -> its members
        self.created = 0

    def accounts(self) -> list[str]:
        return sorted(self.chat_lists)

    def _record(self, name: str, *args: Any) -> None:
        self.calls.append((name, *args))
        failure = self.fail.get(name)
        if isinstance(failure, list):
            if failure:
                raise failure.pop(0)
        elif failure is not None:
            raise self.fail.pop(name)

    def called(self, name: str) -> list[tuple]:
        return [call for call in self.calls if call[0] == name]

    async def connect(self, account: str | None, *, on_event: OnEvent, on_lost: OnLost) -> str:
        self._record("connect", account)
        self.account = account or self.current
        self._on_event, self._on_lost = on_event, on_lost
        return self.account

    async def close(self) -> None:
        self.calls.append(("close",))

    async def chats(self) -> list[dict[str, Any]]:
        self._record("chats", self.account)
        return [dict(chat) for chat in self.chat_lists[self.account]]

    async def history(self, chat: str, *, before: int | None = None, after: int | None = None
                      ) -> list[dict[str, Any]]:
        self._record("history", chat, before, after)
        if after is not None:
            return [m for m in self.histories.get(chat, []) if m["seq"] > after][:self.page]
        messages = [m for m in self.histories.get(chat, []) if before is None or m["seq"] < before]
        return messages[-self.page:]

    def _store(self, chat_id: str, text: str, **extra: Any) -> dict[str, Any]:
        seq = len(self.histories.setdefault(chat_id, [])) + 1
        self.histories[chat_id].append({"chat": chat_id, "seq": seq, "sender": self.account, "text": text,
                                        "client_id": f"c{seq:08d}", "sent_at": T0 + seq, **extra})
        return {"chat": chat_id, "seq": seq, "client_id": f"c{seq:08d}", "sent_at": T0 + seq}

    async def send(self, text: str, *, to: str | None = None, chat: str | None = None) -> dict[str, Any]:
        self._record("send", text, to, chat)
        return self._store(chat or "dm/" + "/".join(sorted((self.account, to))), text)

    async def comment(self, thread: str, text: str) -> dict[str, Any]:
        self._record("comment", thread, text)
        return self._store(thread, text)

    async def post(self, channel: str, text: str) -> dict[str, Any]:
        self._record("post", channel, text)
        if self._role(channel) not in ("owner", "admin"):
            raise RemoteError("not_a_participant", "your role there does not allow it")
        return {**self._store(channel, text, comments=0), "links": []}

    def _role(self, chat: str) -> str:
        if self.owners.get(chat) == self.account:
            return "owner"
        return "admin" if (chat, self.account) in self.admins else "subscriber"

    async def channel_role(self, channel: str) -> str:
        self._record("channel_role", channel)
        return self._role(channel)

    def _new(self, kind: str, title: str) -> dict[str, Any]:
        self.created += 1
        chat = f"{kind[0]}/ru/{self.created:016x}"
        self.owners[chat] = self.account
        info = {"chat": chat, "kind": kind, "title": title, "owner": self.account, "created_at": T0}
        self._list(self.account, info)
        return info

    def _list(self, account: str, info: dict[str, Any]) -> None:
        self.chat_lists.setdefault(account, []).insert(0, {
            "chat": info["chat"], "kind": info["kind"], "title": info["title"],
            "last_seq": len(self.histories.get(info["chat"], [])), "last_at": T0,
            "preview": "", "preview_sender": "", "read_seq": 0, "unread": 0})

    async def create_group(self, title: str, members: list[str]) -> dict[str, Any]:
        self._record("create_group", title, members)
        info = self._new("group", title)
        self.members[info["chat"]] = [self.account, *members]
        return info

    async def create_channel(self, title: str) -> dict[str, Any]:
        self._record("create_channel", title)
        return self._new("channel", title)

    async def subscribe(self, channel: str) -> dict[str, Any]:
        self._record("subscribe", channel)
        if channel not in self.owners:
            raise RemoteError("not_a_participant", "there is no such channel")
        info = {"chat": channel, "kind": "channel", "title": f"channel {channel}", "owner": self.owners[channel],
                "created_at": T0}
        if not any(chat["chat"] == channel for chat in self.chat_lists[self.account]):
            self._list(self.account, info)
        return info

    async def invite(self, chat: str, accounts: list[str]) -> dict[str, Any]:
        self._record("invite", chat, accounts)
        members = self.members.setdefault(chat, [self.account])
        added = [account for account in accounts if account not in members]
        members.extend(added)
        return {"added": added}

    async def read(self, chat: str, seq: int) -> None:
        self._record("read", chat, seq)

    # --- driving the app from a test --------------------------------------------------------------

    def push(self, event: dict[str, Any]) -> None:
        assert self._on_event is not None, "not connected"
        self._on_event({"type": "event", **event})

    def lose(self, error: Exception) -> None:
        self._on_lost(error)
