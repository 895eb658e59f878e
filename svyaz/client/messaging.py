"""Chats from a client: the message.*, chat.*, group.*, channel.*, block.*, report.create and
presence.get calls of docs/protocol.md, and live events.

`Messenger` wraps one authenticated NodeClient. A send, post or comment carries a client message id
(a fresh uuid4 hex unless the caller gives one): the node stores a resend with the same id once, so
one that timed out or lost its connection can be repeated safely. `Messenger` retries the node's
transient refusals on its connection; `send_reliably`, `post_reliably` and `comment_reliably` also
reconnect, one connection per attempt, so every connection stays inside its own `async with`.

Chat ids, as the node names them (svyaz.messaging.ids, mirrored here without importing the
server's packages): `dm/<a>/<b>` private, `g/<region>/<16 hex>` group, `c/<region>/<16 hex>`
channel, `<channel>/p/<seq>` the comment thread of one post.

`Messenger.events()` yields the event pushes of the connection, acknowledging (`message.delivered`)
each message someone else sent and skipping events seen before (Kafka delivers at least once, and a
resend publishes its message again).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import trio

from svyaz.client.connection import NodeClient, NodeUnreachable, RemoteError
from svyaz.errors import SvyazError

logger = logging.getLogger("svyaz.client.messaging")

PRIVATE_PREFIX = "dm/"
SECRET_PREFIX = "sc/"
GROUP_PREFIX = "g/"
CHANNEL_PREFIX = "c/"
_SHARED_ID = re.compile(r"[gc]/[a-z]{2}/[0-9a-f]{16}")
_THREAD_ID = re.compile(r"(c/[a-z]{2}/[0-9a-f]{16})/p/([1-9][0-9]{0,11})")
_ID_EXAMPLES = "a group like g/ru/0123456789abcdef or a channel like c/ru/0123456789abcdef"
REPORT_REASONS = ("spam", "fraud", "abuse")
# Refusals after which the same call, with the same client id, may well succeed (a refusal's
# `retry_after_s`, if any, is waited for when it is at most MAX_WAIT_S).
TRANSIENT = frozenset({"not_published", "store_unavailable", "unavailable", "rate_limited"})
MAX_WAIT_S = 10.0
_SEEN_LIMIT = 10_000

T = TypeVar("T")
Connect = Callable[[], AbstractAsyncContextManager[NodeClient]]


def new_client_id() -> str:
    return uuid.uuid4().hex


def private_chat_id(one: str, other: str) -> str:
    """`dm/<a>/<b>`, the two accounts sorted: the rule of svyaz.messaging.ids, which a client
    applies without importing the server's packages."""
    first, second = sorted((one, other))
    return f"{PRIVATE_PREFIX}{first}/{second}"


def is_group(chat: str) -> bool:
    return chat.startswith(GROUP_PREFIX) and _SHARED_ID.fullmatch(chat) is not None


def is_channel(chat: str) -> bool:
    return chat.startswith(CHANNEL_PREFIX) and _SHARED_ID.fullmatch(chat) is not None


def is_thread(chat: str) -> bool:
    return _THREAD_ID.fullmatch(chat) is not None


def shared_chat(value: str, *, kind: str | None = None) -> str:
    """`value` if it is a group or channel id (only a "group" or only a "channel", if `kind` says)."""
    if kind == "group":
        valid, what, example = is_group(value), "a group id", "a group id like g/ru/0123456789abcdef"
    elif kind == "channel":
        valid, what, example = is_channel(value), "a channel id", "a channel id like c/ru/0123456789abcdef"
    else:
        valid, what, example = _SHARED_ID.fullmatch(value) is not None, "a group or channel id", _ID_EXAMPLES
    if not valid:
        raise SvyazError(f"{value[:80]!r} is not {what}", hint=f"give {example} (`svyaz chats` lists yours)")
    return value


def thread_id(channel: str, post_seq: int) -> str:
    """The comment thread of post `post_seq` of `channel`: `<channel>/p/<seq>`."""
    shared_chat(channel, kind="channel")
    if isinstance(post_seq, bool) or not isinstance(post_seq, int) or not 0 < post_seq < 10**12:
        raise SvyazError(f"{post_seq!r} is not a post number", hint="posts are numbered from 1 (`svyaz channel posts`)")
    return f"{channel}/p/{post_seq}"


def chat_for(me: str, chat_or_peer: str) -> str:
    """A chat id as given (private, secret, group, channel or comment thread), or the private chat
    of `me` with a peer account (`@bob:ru`). Secret chats show sealed envelopes here; `svyaz secret
    read` opens them."""
    if chat_or_peer.startswith((PRIVATE_PREFIX, SECRET_PREFIX)) or is_thread(chat_or_peer):
        return chat_or_peer
    if chat_or_peer.startswith((GROUP_PREFIX, CHANNEL_PREFIX)):
        return shared_chat(chat_or_peer)
    if chat_or_peer.startswith("@"):
        return private_chat_id(me, chat_or_peer)
    raise SvyazError(f"{chat_or_peer[:80]!r} is neither a chat id nor an account",
                     hint="give a peer like @bob:ru, a chat id like dm/@alice:ru/@bob:ru or " + _ID_EXAMPLES)


def peer_for(me: str, to_or_chat: str) -> str:
    """Whom a message goes to: `to_or_chat` itself (an account or a group id), or the other
    participant of a private chat. A channel takes posts and a thread comments, not messages."""
    if to_or_chat.startswith((CHANNEL_PREFIX, GROUP_PREFIX)):
        _writable(to_or_chat)
        return to_or_chat
    if not to_or_chat.startswith(PRIVATE_PREFIX):
        return to_or_chat
    participants = to_or_chat[len(PRIVATE_PREFIX):].split("/")
    others = [p for p in participants if p != me]
    if len(participants) != 2 or len(others) != 1:
        raise SvyazError(f"you ({me}) are not in {to_or_chat[:80]!r}", hint="give the recipient as @name:region")
    return others[0]


def parse_message_ref(value: str) -> tuple[str, int]:
    """`CHAT:SEQ` (the chat as an id or a peer, e.g. `@bob:ru:3` or `g/ru/0123456789abcdef:2`) ->
    (chat or peer, seq). Account ids hold a colon themselves, so the seq is after the last one."""
    chat, _, seq = value.rpartition(":")
    number = int(seq) if seq.isascii() and seq.isdigit() and not seq.startswith("0") else 0
    if not chat or not 0 < number < 10**12:
        raise SvyazError(f"{value[:80]!r} is not a message reference CHAT:SEQ",
                         hint="e.g. @bob:ru:3 (message 3 of your private chat with @bob:ru) or g/ru/<id>:12")
    return chat, number


def _writable(chat: str) -> None:
    """SvyazError unless `chat` is a group, the one kind of shared chat `message.send` writes to."""
    if is_group(chat):
        return
    if is_channel(chat):
        raise SvyazError(f"{chat} is a channel: its owner and admins post, others comment",
                         hint=f"svyaz channel post {chat} TEXT, or svyaz comments add {chat} SEQ TEXT")
    if is_thread(chat):
        channel, seq = _THREAD_ID.fullmatch(chat).groups()
        raise SvyazError(f"{chat} is a comment thread", hint=f"svyaz comments add {channel} {seq} TEXT")
    shared_chat(chat)


class CallTimedOut(NodeUnreachable):
    """The node did not answer in time; the connection may be stuck, so a retry reconnects."""

    code = "call_timed_out"


class SendInterrupted(NodeUnreachable):
    """A send (or forward) whose answer never came: it may or may not be stored. Resending with
    `client_id` is safe."""

    code = "send_interrupted"

    def __init__(self, message: str, *, client_id: str) -> None:
        super().__init__(message, hint=f"resend with --client-id {client_id}: the node stores it once")
        self.client_id = client_id


class Messenger:
    def __init__(self, client: NodeClient, *, account: str | None = None, call_timeout_s: float = 30.0,
                 attempts: int = 3, retry_delay_s: float = 0.5) -> None:
        self.client = client
        self.account = account
        self._call_timeout_s = call_timeout_s
        self._attempts = max(1, attempts)
        self._retry_delay_s = retry_delay_s
        self._seen: OrderedDict[tuple, None] = OrderedDict()

    async def whoami(self) -> str:
        """The connection's account as the node sees it. The answer also shows that the node
        serves the connection, so live events reach it from then on."""
        self.account = (await self._call("account.profile.read"))["account"]
        return self.account

    # --- writing ----------------------------------------------------------------------------------

    async def send(self, to: str, text: str, *, reply_to: int | None = None,
                   client_id: str | None = None) -> dict[str, Any]:
        """To an account (`@bob:ru`: their private chat) or into a group (`to` is its id).
        -> {chat, seq, client_id, sent_at}. Resending with the returned client id is safe."""
        if to.startswith((GROUP_PREFIX, CHANNEL_PREFIX)):
            _writable(to)
            target = {"chat": to}
        else:
            target = {"to": to}
        args: dict[str, Any] = {**target, "text": text, "client_id": client_id or new_client_id()}
        if reply_to is not None:
            args["reply_to"] = reply_to
        return await self._idempotent("message.send", args)

    async def forward(self, to: str, *, from_chat: str, seq: int, client_id: str | None = None) -> dict[str, Any]:
        return await self._idempotent("message.forward", {"to": to, "from_chat": from_chat, "seq": seq,
                                                          "client_id": client_id or new_client_id()})

    async def edit(self, chat: str, seq: int, text: str) -> dict[str, Any]:
        return await self._call("message.edit", chat=chat, seq=seq, text=text)

    async def delete(self, chat: str, seq: int, *, for_everyone: bool = False) -> dict[str, Any]:
        return await self._call("message.delete", chat=chat, seq=seq, for_everyone=for_everyone)

    async def typing(self, chat: str) -> None:
        await self._call("chat.typing", chat=chat)

    # --- groups -----------------------------------------------------------------------------------

    async def create_group(self, title: str, members: Sequence[str] = (), *, secret: bool = False) -> dict[str, Any]:
        """A group owned by you, with `members` in it; `secret`: its messages are sealed end to end
        (svyaz.client.secret_groups). -> {chat, kind, title, owner, created_at}."""
        return await self._call("group.create", title=title, members=list(members), **({"secret": True} if secret else {}))

    async def invite(self, chat: str, accounts: Sequence[str]) -> list[str]:
        """Add accounts to a group (owner and admins). -> those newly added."""
        return (await self._call("group.invite", chat=chat, accounts=list(accounts)))["added"]

    async def remove_member(self, chat: str, account: str) -> bool:
        """Remove a member (owner: anyone else; admin: members), or leave (`account` is you).
        -> whether the account was in the group."""
        return (await self._call("group.remove", chat=chat, account=account))["removed"]

    async def leave(self, chat: str) -> bool:
        return await self.remove_member(chat, self.account or await self.whoami())

    async def set_admin(self, chat: str, account: str, admin: bool = True) -> str:
        """Make a member an admin, or a member again (the owner only). -> the role now held."""
        return (await self._call("group.admin", chat=chat, account=account, admin=admin))["role"]

    async def members(self, chat: str, *, limit: int | None = None) -> list[dict[str, Any]]:
        """-> [{account, role}] of a group (members only)."""
        return (await self._call("group.members", chat=chat, **_given(limit=limit)))["members"]

    # --- channels ---------------------------------------------------------------------------------

    async def create_channel(self, title: str) -> dict[str, Any]:
        """A channel owned by you. -> {chat, kind, title, owner, created_at}."""
        return await self._call("channel.create", title=title)

    async def subscribe(self, channel: str) -> dict[str, Any]:
        """-> the channel: {chat, kind, title, owner, created_at}. Subscribing twice changes nothing."""
        return await self._call("channel.subscribe", channel=channel)

    async def unsubscribe(self, channel: str) -> bool:
        """-> whether you were subscribed."""
        return (await self._call("channel.unsubscribe", channel=channel))["unsubscribed"]

    async def post(self, channel: str, text: str, *, media: str | None = None,
                   client_id: str | None = None) -> dict[str, Any]:
        """Post to a channel (owner and admins). -> {chat, seq, client_id, sent_at, links}.
        Resending with the returned client id is safe."""
        args: dict[str, Any] = {"channel": channel, "text": text, "client_id": client_id or new_client_id()}
        return await self._idempotent("channel.post", {**args, **_given(media=media)})

    async def posts(self, channel: str, *, before: int | None = None, after: int | None = None,
                    limit: int | None = None) -> list[dict[str, Any]]:
        """A page of posts, ascending, each with its `comments` count (any account may read)."""
        return await self.history(channel, before=before, after=after, limit=limit)

    async def comment(self, thread: str, text: str, *, reply_to: int | None = None,
                      client_id: str | None = None) -> dict[str, Any]:
        """Comment on a post: `thread` is `thread_id(channel, seq)`. -> {chat, seq, client_id, sent_at}."""
        args: dict[str, Any] = {"thread": thread, "text": text, "client_id": client_id or new_client_id()}
        return await self._idempotent("channel.comment", {**args, **_given(reply_to=reply_to)})

    async def comments(self, channel: str, post_seq: int, *, before: int | None = None, after: int | None = None,
                       limit: int | None = None) -> list[dict[str, Any]]:
        """A page of a post's comments, ascending; without before/after the newest ("scroll to the last")."""
        return await self.history(thread_id(channel, post_seq), before=before, after=after, limit=limit)

    # --- safety -----------------------------------------------------------------------------------

    async def block(self, account: str) -> str:
        """Refuse `account`'s private messages and hide your presence from it. -> the account."""
        return (await self._call("block.add", account=account))["blocked"]

    async def unblock(self, account: str) -> bool:
        """-> whether the account was blocked."""
        return (await self._call("block.remove", account=account))["unblocked"]

    async def blocked(self) -> list[str]:
        return (await self._call("block.list"))["accounts"]

    async def report(self, account: str, reason: str, *, note: str | None = None,
                     messages: Sequence[tuple[str, int]] = ()) -> str:
        """Report an account to the moderators (`reason`: spam, fraud or abuse), with up to 20
        (chat, seq) of its messages you can see; the node keeps copies. -> the report id."""
        refs = [{"chat": chat, "seq": seq} for chat, seq in messages]
        args = {"account": account, "reason": reason, **_given(note=note), **({"messages": refs} if refs else {})}
        return (await self._call("report.create", **args))["report"]

    async def presence(self, account: str) -> dict[str, Any]:
        """-> {account, visible} and, if visible, {online, last_seen}."""
        return await self._call("presence.get", account=account)

    # --- secret chats (the node relays; svyaz.client.secret seals and opens) ----------------------

    async def publish_keys(self, bundle: dict[str, Any]) -> int:
        """Publish this device's prekey bundle. -> one-time prekeys the node now holds."""
        return (await self._call("keys.publish", bundle=bundle))["one_time_prekeys"]

    async def count_keys(self) -> int:
        return (await self._call("keys.count"))["one_time_prekeys"]

    async def claim_keys(self, account: str) -> dict[str, Any]:
        """`account`'s prekey bundle with at most one one-time prekey, handed to nobody else."""
        return await self._call("keys.claim", account=account)

    async def secret_policy(self) -> dict[str, Any]:
        """The home region's policy for secret chats: {mode: strict} or {mode: escrow, escrow_key, ...}."""
        return await self._call("secret.policy")

    async def send_sealed(self, chat: str, sealed: str, franking: str, *, client_id: str) -> dict[str, Any]:
        return await self._idempotent("secret.send", {"chat": chat, "sealed": sealed, "franking": franking,
                                                      "client_id": client_id})

    async def report_secret(self, chat: str, seq: int, *, text: str, franking_key: str, reason: str,
                            note: str | None = None) -> str:
        """Reveal one secret message to the moderators; the node checks it against its commitment."""
        args = {"chat": chat, "seq": seq, "text": text, "franking_key": franking_key, "reason": reason,
                **_given(note=note)}
        return (await self._call("secret.report", **args))["report"]

    # --- reading ----------------------------------------------------------------------------------

    async def history(self, chat: str, *, before: int | None = None, after: int | None = None,
                      limit: int | None = None) -> list[dict[str, Any]]:
        """Messages in ascending order: the newest page, or the page before/after a seq."""
        args = {name: value for name, value in (("before", before), ("after", after), ("limit", limit))
                if value is not None}
        return (await self._call("message.history", chat=chat, **args))["messages"]

    async def chats(self, *, limit: int | None = None) -> list[dict[str, Any]]:
        return (await self._call("chat.list", **({} if limit is None else {"limit": limit})))["chats"]

    async def read(self, chat: str, seq: int) -> int:
        return (await self._call("message.read", chat=chat, seq=seq))["read"]

    async def delivered(self, chat: str, seq: int) -> int:
        return (await self._call("message.delivered", chat=chat, seq=seq))["delivered"]

    # --- live events ------------------------------------------------------------------------------

    async def events(self, *, fresh_access_token: Callable[[], Awaitable[str]] | None = None
                     ) -> AsyncIterator[dict[str, Any]]:
        """Event pushes, each once. Messages from others are acknowledged as delivered before they
        are yielded; the echo of one's own delivery receipts is left out. On a `reauth` push,
        `fresh_access_token()` (if given) supplies the token presented to keep the connection.
        Ends with NodeUnreachable when the node closes the connection."""
        me = self.account or await self.whoami()
        async for frame in self.client.pushes:
            kind = frame.get("type")
            if kind == "reauth" and fresh_access_token is not None:
                await self.client.authenticate(await fresh_access_token())
                continue
            if kind != "event" or not self._first_time(frame):
                continue
            if frame.get("kind") == "receipt.delivered" and frame.get("actor") == me:
                continue
            if frame.get("kind") == "message.created" and frame.get("actor") != me:
                await self._acknowledge(frame)
            yield frame
        raise _closed(self.client)

    def _first_time(self, event: dict[str, Any]) -> bool:
        """Whether `event` is new. Identity is (chat, seq, kind); an edit adds its time (a message
        may be edited twice) and typing its event id (typing repeats by nature)."""
        key: tuple = (event.get("chat"), event.get("seq"), event.get("kind"))
        if event.get("kind") == "message.edited":
            key += (event.get("at"),)
        elif event.get("kind") == "typing":
            key += (event.get("id"),)
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > _SEEN_LIMIT:
            self._seen.popitem(last=False)
        return True

    async def _acknowledge(self, event: dict[str, Any]) -> None:
        try:
            await self.delivered(event["chat"], event["seq"])
        except RemoteError as err:  # the event is still worth showing; the next ack covers this one
            logger.warning("delivery not acknowledged", extra={"chat": event.get("chat"), "error": str(err)})

    # --- calls ------------------------------------------------------------------------------------

    async def _idempotent(self, action: str, args: dict[str, Any]) -> dict[str, Any]:
        """A call carrying a client id, repeated on transient refusals. A lost connection or a
        timeout is raised with the client id in its hint, for a resend on a new connection."""
        for attempt in range(1, self._attempts + 1):
            try:
                return await self._call(action, **args)
            except RemoteError as err:
                wait = err.retry_after_s if err.retry_after_s is not None else self._retry_delay_s * attempt
                if err.code not in TRANSIENT or attempt == self._attempts or wait > MAX_WAIT_S:
                    raise
                await trio.sleep(wait)
            except NodeUnreachable as err:
                raise SendInterrupted(str(err), client_id=args["client_id"]) from err
        raise AssertionError("unreachable")

    async def _call(self, action: str, **args: Any) -> dict[str, Any]:
        with trio.move_on_after(self._call_timeout_s):
            return await self.client.call(action, **args)
        raise CallTimedOut(f"the node did not answer {action} within {self._call_timeout_s:g} s")


async def with_reconnects(connect: Connect, use: Callable[[Messenger], Awaitable[T]], *,
                          client_id: str | None = None, attempts: int = 3, retry_delay_s: float = 0.5,
                          call_timeout_s: float = 30.0) -> T:
    """`use(messenger)` on a connection from `connect()`, again on a new connection (up to
    `attempts` in all) after a lost connection or a timeout. Only for idempotent uses, such as a
    send whose `client_id` is fixed before the first attempt: the last failure then names it."""
    for attempt in range(1, attempts + 1):
        try:
            async with connect() as client:
                return await use(Messenger(client, call_timeout_s=call_timeout_s, attempts=attempts,
                                           retry_delay_s=retry_delay_s))
        except NodeUnreachable as err:
            if attempt < attempts:
                await trio.sleep(retry_delay_s * attempt)
            elif client_id is None or isinstance(err, SendInterrupted):
                raise
            else:  # an earlier attempt may have reached the node before the connection went
                raise SendInterrupted(str(err), client_id=client_id) from err
    raise AssertionError("unreachable")


async def send_reliably(connect: Connect, to: str, text: str, *, reply_to: int | None = None,
                        client_id: str | None = None, **retries: Any) -> dict[str, Any]:
    """Send with one client id over as many connections as it takes (see `with_reconnects`);
    the node stores the message once however many copies arrive."""
    fixed = client_id or new_client_id()
    return await with_reconnects(connect, lambda m: m.send(to, text, reply_to=reply_to, client_id=fixed),
                                 client_id=fixed, **retries)


async def post_reliably(connect: Connect, channel: str, text: str, *, media: str | None = None,
                        client_id: str | None = None, **retries: Any) -> dict[str, Any]:
    """`Messenger.post` over as many connections as it takes, with one client id (see `send_reliably`)."""
    fixed = client_id or new_client_id()
    return await with_reconnects(connect, lambda m: m.post(channel, text, media=media, client_id=fixed),
                                 client_id=fixed, **retries)


async def comment_reliably(connect: Connect, thread: str, text: str, *, reply_to: int | None = None,
                           client_id: str | None = None, **retries: Any) -> dict[str, Any]:
    """`Messenger.comment` over as many connections as it takes, with one client id."""
    fixed = client_id or new_client_id()
    return await with_reconnects(connect, lambda m: m.comment(thread, text, reply_to=reply_to, client_id=fixed),
                                 client_id=fixed, **retries)


def _given(**args: Any) -> dict[str, Any]:
    """The optional arguments that have a value (the node refuses a null where it wants a type)."""
    return {name: value for name, value in args.items() if value is not None}


def _closed(client: NodeClient) -> NodeUnreachable:
    reason = client.closed.reason if client.closed else None
    detail = f"{reason.code} {reason.reason or ''}".strip() if reason else "connection lost"
    return NodeUnreachable(f"the node closed the connection ({detail})",
                           hint="reconnect; `svyaz history` shows what arrived meanwhile")
