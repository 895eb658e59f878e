"""One WebSocket connection to a node, speaking the call/result protocol of docs/protocol.md."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import trio
from trio_websocket import (
    ConnectionClosed,
    ConnectionRejected,
    ConnectionTimeout,
    HandshakeError,
    WebSocketConnection,
    open_websocket_url,
)

from svyaz.errors import SvyazError

PUSH_BUFFER = 64


class RemoteError(SvyazError):
    """The node refused a call: `code` is the stable error code of docs/protocol.md."""

    def __init__(self, code: str, message: str, *, hint: str | None = None,
                 retry_after_s: float | None = None) -> None:
        super().__init__(message, hint=hint)
        self.code = code
        self.retry_after_s = retry_after_s


class NodeUnreachable(SvyazError):
    code = "node_unreachable"


class NodeClient:
    def __init__(self, ws: WebSocketConnection, hello: dict[str, Any]) -> None:
        self.hello = hello
        self._ws = ws
        self._ids = itertools.count(1)
        self._waiting: dict[str, trio.MemorySendChannel] = {}
        self._push_send, self.pushes = trio.open_memory_channel[dict](PUSH_BUFFER)
        self.closed: ConnectionClosed | None = None

    async def call(self, action: str, **args: Any) -> dict[str, Any]:
        """Send one call and wait for its result; RemoteError if the node answered with an error."""
        return await self._request({"type": "call", "action": action, "args": args})

    async def authenticate(self, access_token: str) -> dict[str, Any]:
        """Present a (fresh) access token on this connection, e.g. after a `reauth` push."""
        return await self._request({"type": "authenticate", "access_token": access_token})

    async def _request(self, frame: dict[str, Any]) -> dict[str, Any]:
        request_id = str(next(self._ids))
        send, receive = trio.open_memory_channel[dict](1)
        self._waiting[request_id] = send
        try:
            await self._ws.send_message(json.dumps({**frame, "id": request_id}))
            reply = await receive.receive()
        except (ConnectionClosed, trio.EndOfChannel):
            raise self._closed_error() from None
        finally:
            self._waiting.pop(request_id, None)
        if reply["type"] == "error":
            raise RemoteError(reply.get("code", "error"), reply.get("message", ""), hint=reply.get("hint"),
                              retry_after_s=reply.get("retry_after_s"))
        return reply.get("data", reply)

    async def _read(self) -> None:
        """Route each incoming frame: results to their caller, everything else to `pushes`."""
        try:
            while True:
                frame = json.loads(await self._ws.get_message())
                waiter = (self._waiting.get(str(frame.get("id")))
                          if frame.get("type") in ("result", "error", "authenticated") else None)
                if waiter is not None:
                    waiter.send_nowait(frame)
                else:
                    self._push_send.send_nowait(frame)  # overflow raises: a client must read its pushes
        except ConnectionClosed as closed:
            self.closed = closed
        finally:
            for waiter in self._waiting.values():
                waiter.close()
            self._push_send.close()

    def _closed_error(self) -> SvyazError:
        reason = self.closed.reason if self.closed else None
        detail = f"{reason.code} {reason.reason or ''}".strip() if reason else "connection lost"
        return NodeUnreachable(f"the node closed the connection ({detail})")


@asynccontextmanager
async def open_node_client(url: str, *, access_token: str | None = None, connect_timeout_s: float = 10.0,
                           extra_headers: list[tuple[str, str]] | None = None) -> AsyncIterator[NodeClient]:
    """Connect (with the access token, if any), read the hello, and serve calls until the block ends."""
    headers = [("Authorization", f"Bearer {access_token}")] if access_token else []
    headers += extra_headers or []
    async with AsyncExitStack() as stack:
        try:
            ws = await stack.enter_async_context(
                open_websocket_url(url, extra_headers=headers, connect_timeout=connect_timeout_s))
        except ConnectionRejected as err:
            body = _json_or_empty(err.body)
            raise RemoteError(body.get("code", f"http_{err.status_code}"),
                              body.get("message", f"the node refused the connection ({err.status_code})")) from None
        except (OSError, HandshakeError, ConnectionTimeout) as err:
            raise NodeUnreachable(f"cannot connect to {url}: {err}",
                                  hint="is the node running? (`svyaz node serve --region ...`)") from err
        client = NodeClient(ws, json.loads(await ws.get_message()))
        failure: Exception | None = None
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client._read)
            try:
                yield client
            except Exception as err:  # re-raised below, so callers see it unwrapped by the nursery
                failure = err
            nursery.cancel_scope.cancel()
        if failure is not None:
            raise failure


def _json_or_empty(body: bytes | None) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
