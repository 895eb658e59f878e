"""What the chat app shows, as plain data: chat-list updates from live events, kind icons, where a
composer's text goes, what the forms accept, when and how soon to reconnect. No Textual, no trio:
unit-tested without a terminal."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

KIND_ICONS = {"private": "👤", "group": "👥", "channel": "📢", "thread": "💬"}
SECRET_ICON = "🔒"
THREAD_MARK = "/p/"
CHANNEL_PREFIX = "c/"
# A secret chat is private to the node, but its keys live in the device's vault, which this app
# does not open yet: it lists such chats and sends people to the CLI that holds them.
SECRET_PREFIX = "sc/"
SECRET_IN_CLI = "a secret chat (end-to-end): read and write it with `svyaz secret read|send`"
# Who may post to a channel (docs/protocol.md, channel.post: owner and admins).
CHANNEL_MANAGERS = frozenset({"owner", "admin"})
# `@name:region`, checked again by the node; this only catches a typo before the round trip.
ACCOUNT_SHAPE = re.compile(r"^@[^\s:@,]+:[a-z]{2}$")


def kind_icon(kind: str) -> str:
    return KIND_ICONS.get(kind, "•")


def chat_icon(chat: dict[str, Any]) -> str:
    """The icon of a chat-list entry: its kind's, or a lock for a secret chat."""
    return SECRET_ICON if is_secret(chat.get("chat", "")) else kind_icon(chat.get("kind", ""))


def is_secret(chat: str) -> bool:
    return chat.startswith(SECRET_PREFIX)


def thread_id(channel: str, seq: int) -> str:
    """The comment thread of a channel post (docs/protocol.md: `<channel>/p/<seq>`)."""
    return f"{channel}{THREAD_MARK}{seq}"


def is_thread(chat: str) -> bool:
    return THREAD_MARK in chat


@dataclass(frozen=True)
class Target:
    """Where the composer's text goes: `action` is send (with `to` or `chat`), post (into the
    channel `chat`), comment (into the thread `chat`), or none (with the `reason` shown instead)."""

    action: str            # "send" | "post" | "comment" | "none"
    to: str | None = None
    chat: str | None = None
    reason: str = ""

    @property
    def placeholder(self) -> str:
        return {"send": "message… (Enter sends)", "post": "post to the channel… (Enter posts; Enter on a post "
                "opens its comments)", "comment": "comment… (Enter sends, Esc back to the channel)"
                }.get(self.action, self.reason)


READ_ONLY_CHANNEL = "read-only: only its owner and admins post here — Enter on a post to comment"


def composer_target(chat: dict[str, Any] | None, *, role: str | None = None) -> Target:
    """A private chat sends `to` the peer, a group sends to the `chat`, a comment thread comments; a
    channel is posted to by its owner and admins (`role`: the account's role there, None if not
    known), and read-only for everyone else, who comment on a post instead (Enter on it)."""
    if chat is None:
        return Target("none", reason="pick a chat on the left, or ctrl+n for a new one")
    if is_secret(chat["chat"]):
        return Target("none", chat=chat["chat"], reason=SECRET_IN_CLI)
    kind = chat.get("kind")
    if kind == "private":
        return Target("send", to=chat.get("peer"), chat=chat["chat"])
    if kind == "group":
        return Target("send", chat=chat["chat"])
    if kind == "thread":
        return Target("comment", chat=chat["chat"])
    if kind == "channel" and role in CHANNEL_MANAGERS:
        return Target("post", chat=chat["chat"])
    return Target("none", chat=chat["chat"], reason=READ_ONLY_CHANNEL)


def role_from_info(info: dict[str, Any], me: str) -> str:
    """My role in a channel from the node's answer describing it (`channel.create`/`subscribe`):
    its owner, or a subscriber (an admin is told apart only by a `member.added` event)."""
    return "owner" if info.get("owner") == me else "subscriber"


def apply_role_event(roles: dict[str, str], event: dict[str, Any], *, me: str) -> dict[str, str]:
    """`roles` (chat -> my role there) after a live event: `member.added` naming me sets my role
    (also a role change), `member.removed` naming me forgets the chat."""
    kind, chat = event.get("kind"), event.get("chat")
    about = event.get("message") or {}
    if chat is None or about.get("account") != me:
        return roles
    if kind == "member.added" and about.get("role"):
        return {**roles, chat: about["role"]}
    if kind == "member.removed" and chat in roles:
        return {key: value for key, value in roles.items() if key != chat}
    return roles


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


# --- the forms (new group, new channel, subscribe, invite) -----------------------------------------

def split_accounts(text: str) -> tuple[list[str], str]:
    """Accounts from a comma (or space) separated list, once each in the order given, and what is
    wrong with the list ("" if nothing)."""
    accounts: list[str] = []
    for part in re.split(r"[,\s]+", text.strip()):
        if part and part not in accounts:
            accounts.append(part)
    wrong = [account for account in accounts if not ACCOUNT_SHAPE.match(account)]
    if wrong:
        return accounts, f"not an account id: {', '.join(wrong[:3])} (an account id looks like @name:region)"
    return accounts, ""


def form_problem(kind: str, values: dict[str, str]) -> str:
    """What stops a form from being sent ("" if nothing): a title for a new group or channel, account
    ids for members and invitations, a channel id to subscribe to."""
    title = values.get("title", "").strip()
    if kind in ("group", "channel") and not title:
        return f"a {kind} needs a title"
    if kind == "group":
        return split_accounts(values.get("members", ""))[1]
    if kind == "invite":
        accounts, problem = split_accounts(values.get("accounts", ""))
        return problem or ("" if accounts else "name at least one account, e.g. @bob:ru, @carol:ru")
    if kind == "subscribe":
        channel = values.get("channel", "").strip()
        if not channel.startswith(CHANNEL_PREFIX) or is_thread(channel) or len(channel) <= len(CHANNEL_PREFIX):
            return "a channel id looks like c/ru/0123abcd… (ask its owner, or copy it from the title bar)"
    return ""


def listed_chat(info: dict[str, Any]) -> dict[str, Any]:
    """A chat-list entry for a group or channel just created or joined, until the node lists it."""
    return {"chat": info["chat"], "kind": info.get("kind", "group"), "title": info.get("title") or info["chat"],
            "last_seq": info.get("last_seq", 0), "last_at": info.get("created_at"), "preview": "",
            "preview_sender": None, "read_seq": 0, "unread": 0}


# --- staying connected ----------------------------------------------------------------------------

# Failures after which connecting again may well work: the node is away or busy. Anything else (a
# refused sign-in: an expired or reused refresh token, a revoked session, ...) needs the person.
RETRYABLE = frozenset({"node_unreachable", "call_timed_out", "send_interrupted", "connection_failed",
                       "unavailable", "store_unavailable", "audit_unavailable", "rate_limited", "throttled",
                       "internal_error"})


def may_retry(err: BaseException) -> bool:
    return (getattr(err, "code", None) or type(err).__name__) in RETRYABLE


@dataclass(frozen=True)
class Backoff:
    """How long to wait before reconnect attempt `attempt` (1, 2, ...): `first_s`, growing by
    `factor`, never more than `cap_s` (unless the node asked for longer with `retry_after_s`)."""

    first_s: float = 0.5
    factor: float = 2.0
    cap_s: float = 10.0

    def delay(self, attempt: int, *, retry_after_s: float | None = None) -> float:
        grown = min(self.cap_s, self.first_s * self.factor ** max(0, attempt - 1))
        return max(grown, retry_after_s or 0.0)


def count_comment(posts: list[dict[str, Any]], event: dict[str, Any], *, channel: str) -> list[dict[str, Any]]:
    """A channel's shown posts after a comment arrived on one of them: a thread's seq is its head,
    so the post's count becomes at least that (the same event twice changes nothing)."""
    thread = event.get("chat") or ""
    if event.get("kind") != "message.created" or not thread.startswith(f"{channel}{THREAD_MARK}"):
        return posts
    try:
        post_seq = int(thread[len(channel) + len(THREAD_MARK):])
    except ValueError:
        return posts
    seq = event.get("seq") or 0
    return [dict(post, comments=max(post.get("comments") or 0, seq)) if post.get("seq") == post_seq else post
            for post in posts]
