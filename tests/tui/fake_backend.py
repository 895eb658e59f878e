"""An in-memory ChatBackend: a few accounts, their chats and messages; records every call."""

from __future__ import annotations

from typing import Any

from svyaz.client.connection import RemoteError
from svyaz.tui.backend import OnEvent, OnLost


class FakeBackend:
    def __init__(self, chats: dict[str, list[dict[str, Any]]], history: dict[str, list[dict[str, Any]]],
                 *, current: str) -> None:
        self.chat_lists = chats          # account -> chat.list answer
        self.histories = history         # chat id -> every message, ascending
        self.current = current
        self.calls: list[tuple] = []
        self.fail: dict[str, RemoteError] = {}   # method name -> the refusal it answers with next
        self.account: str | None = None
        self._on_event: OnEvent | None = None
        self._on_lost: OnLost | None = None
        self.page = 50

    def accounts(self) -> list[str]:
        return sorted(self.chat_lists)

    def _record(self, name: str, *args: Any) -> None:
        self.calls.append((name, *args))
        if name in self.fail:
            raise self.fail.pop(name)

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

    async def history(self, chat: str, *, before: int | None = None) -> list[dict[str, Any]]:
        self._record("history", chat, before)
        messages = [m for m in self.histories.get(chat, []) if before is None or m["seq"] < before]
        return messages[-self.page:]

    async def send(self, text: str, *, to: str | None = None, chat: str | None = None) -> dict[str, Any]:
        self._record("send", text, to, chat)
        chat_id = chat or "dm/" + "/".join(sorted((self.account, to)))
        seq = len(self.histories.setdefault(chat_id, [])) + 1
        self.histories[chat_id].append({"chat": chat_id, "seq": seq, "sender": self.account, "text": text,
                                        "sent_at": 1_800_000_000.0 + seq})
        return {"chat": chat_id, "seq": seq, "client_id": f"c{seq:08d}", "sent_at": 1_800_000_000.0 + seq}

    async def comment(self, thread: str, text: str) -> dict[str, Any]:
        self._record("comment", thread, text)
        return {"chat": thread, "seq": 1, "client_id": "c00000001", "sent_at": 1_800_000_000.0}

    async def read(self, chat: str, seq: int) -> None:
        self._record("read", chat, seq)

    # --- driving the app from a test --------------------------------------------------------------

    def push(self, event: dict[str, Any]) -> None:
        assert self._on_event is not None, "not connected"
        self._on_event({"type": "event", **event})

    def lose(self, error: Exception) -> None:
        self._on_lost(error)
