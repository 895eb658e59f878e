"""What the chat app shows, as plain data: chat-list updates from live events, kind icons, where a
composer's text goes. No Textual, no trio: unit-tested without a terminal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KIND_ICONS = {"private": "👤", "group": "👥", "channel": "📢", "thread": "💬"}
THREAD_MARK = "/p/"


def kind_icon(kind: str) -> str:
    return KIND_ICONS.get(kind, "•")


def thread_id(channel: str, seq: int) -> str:
    """The comment thread of a channel post (docs/protocol.md: `<channel>/p/<seq>`)."""
    return f"{channel}{THREAD_MARK}{seq}"


def is_thread(chat: str) -> bool:
    return THREAD_MARK in chat


@dataclass(frozen=True)
class Target:
    """Where the composer's text goes: `action` is send (with `to` or `chat`), comment, or none."""

    action: str            # "send" | "comment" | "none"
    to: str | None = None
    chat: str | None = None
    reason: str = ""


def composer_target(chat: dict[str, Any] | None) -> Target:
    """A private chat sends `to` the peer, a group sends to the `chat`, a comment thread comments;
    a channel is read-only here (Enter on a post opens its comments)."""
    if chat is None:
        return Target("none", reason="pick a chat on the left, or ctrl+n for a new one")
    kind = chat.get("kind")
    if kind == "private":
        return Target("send", to=chat.get("peer"), chat=chat["chat"])
    if kind == "group":
        return Target("send", chat=chat["chat"])
    if kind == "thread":
        return Target("comment", chat=chat["chat"])
    return Target("none", reason="channel posts are read-only here: Enter on a post opens its comments")


def new_private_chat(me: str, peer: str) -> dict[str, Any]:
    """A chat-list entry for a private chat with no message yet (the node lists it after the first)."""
    first, second = sorted((me, peer))
    return {"chat": f"dm/{first}/{second}", "kind": "private", "title": peer, "peer": peer,
            "last_seq": 0, "preview": "", "preview_sender": None, "read_seq": 0, "unread": 0}


def apply_event(chats: list[dict[str, Any]], event: dict[str, Any], *, me: str,
                open_chat: str | None) -> tuple[list[dict[str, Any]], bool]:
    """The chat list after one live event, newest first, and whether the list needs a reload from
    the node (an event of a chat it does not show yet: the title is the node's to tell)."""
    chat_id, kind = event.get("chat"), event.get("kind")
    if chat_id is None or is_thread(chat_id):
        return chats, False
    index = next((i for i, chat in enumerate(chats) if chat["chat"] == chat_id), None)
    if kind == "message.created":
        if index is None:
            return chats, True
        message = event.get("message") or {}
        seq = event.get("seq") or message.get("seq") or 0
        chat = dict(chats[index])
        if seq <= chat.get("last_seq", 0):
            return chats, False
        chat.update(last_seq=seq, last_at=event.get("at"), preview=message.get("text", ""),
                    preview_sender=event.get("actor"))
        if event.get("actor") == me:  # written here or on another device: read by definition
            chat["read_seq"] = max(chat.get("read_seq", 0), seq)
        elif chat_id != open_chat:  # an open chat is marked read by the app instead
            chat["unread"] = chat.get("unread", 0) + 1
        return [chat] + chats[:index] + chats[index + 1:], False
    if kind == "receipt.read" and event.get("actor") == me and index is not None:
        chat = dict(chats[index])
        read_seq = max(chat.get("read_seq", 0), event.get("seq") or 0)
        chat.update(read_seq=read_seq,
                    unread=max(0, min(chat.get("unread", 0), chat.get("last_seq", 0) - read_seq)))
        return chats[:index] + [chat] + chats[index + 1:], False
    if kind in ("member.added", "member.removed") and index is None:
        return chats, True
    return chats, False


def mark_read(chats: list[dict[str, Any]], chat_id: str, seq: int) -> list[dict[str, Any]]:
    return [dict(chat, read_seq=max(chat.get("read_seq", 0), seq), unread=0) if chat["chat"] == chat_id else chat
            for chat in chats]


def merge_messages(shown: list[dict[str, Any]], page: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One ascending list by seq, a message given twice (page and live event) kept once, the later copy."""
    by_seq = {message["seq"]: message for message in shown}
    by_seq.update({message["seq"]: message for message in page})
    return [by_seq[seq] for seq in sorted(by_seq)]


def describe_error(err: BaseException) -> str:
    """One line for the status bar: `code: message (fix: hint)`; never a traceback."""
    code = getattr(err, "code", None) or type(err).__name__
    hint = getattr(err, "hint", None)
    text = f"{code}: {err}"
    return f"{text} (fix: {hint})" if hint else text
