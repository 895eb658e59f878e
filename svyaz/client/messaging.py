"""Private chats from a client: the message.* and chat.* calls of docs/protocol.md, and live events.

`Messenger` wraps one authenticated NodeClient. A send carries a client message id (a fresh uuid4
hex unless the caller gives one): the node stores a resend with the same id once, so a send that
timed out or lost its connection can be repeated safely. `Messenger` retries the node's transient
refusals on its connection; `send_reliably` also reconnects, one connection per attempt, so every
connection stays inside its own `async with`.

`Messenger.events()` yields the event pushes of the connection, acknowledging (`message.delivered`)
each message someone else sent and skipping events seen before (Kafka delivers at least once, and a
resend publishes its message again).
"""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import trio

from svyaz.client.connection import NodeClient, NodeUnreachable, RemoteError
from svyaz.errors import SvyazError

logger = logging.getLogger("svyaz.client.messaging")

PRIVATE_PREFIX = "dm/"
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


def chat_for(me: str, chat_or_peer: str) -> str:
    """A chat id as given, or the private chat of `me` with a peer account (`@bob:ru`)."""
    if chat_or_peer.startswith(PRIVATE_PREFIX):
        return chat_or_peer
    if chat_or_peer.startswith("@"):
        return private_chat_id(me, chat_or_peer)
    raise SvyazError(f"{chat_or_peer[:80]!r} is neither a chat id nor an account",
                     hint="give a peer like @bob:ru or a chat id like dm/@alice:ru/@bob:ru")


def peer_for(me: str, to_or_chat: str) -> str:
    """The account to write to: `to_or_chat` itself, or the other participant of a private chat."""
    if not to_or_chat.startswith(PRIVATE_PREFIX):
        return to_or_chat
    participants = to_or_chat[len(PRIVATE_PREFIX):].split("/")
    others = [p for p in participants if p != me]
    if len(participants) != 2 or len(others) != 1:
        raise SvyazError(f"you ({me}) are not in {to_or_chat[:80]!r}", hint="give the recipient as @name:region")
    return others[0]


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
        """-> {chat, seq, client_id, sent_at}. Resending with the returned client id is safe."""
        args: dict[str, Any] = {"to": to, "text": text, "client_id": client_id or new_client_id()}
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


def _closed(client: NodeClient) -> NodeUnreachable:
    reason = client.closed.reason if client.closed else None
    detail = f"{reason.code} {reason.reason or ''}".strip() if reason else "connection lost"
    return NodeUnreachable(f"the node closed the connection ({detail})",
                           hint="reconnect; `svyaz history` shows what arrived meanwhile")
