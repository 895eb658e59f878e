"""The client gateway: a trio-websocket server speaking the frames of `frames` (docs/node.md).

Each connection gets a hello, then every message is answered in order. A bad frame gets an error
frame and the connection stays open; a message over `gateway.max_frame_bytes` makes trio-websocket
close the connection with 1009 before the message is buffered whole. trio-websocket never offers
permessage-deflate (its handshake accepts no extensions), so compression cannot inflate a small
frame past the limit. On shutdown, `drain` stops the handshakes and closes each connection with 1001.
"""

from __future__ import annotations

import contextlib
import json
import logging

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest, wrap_server_stream

from svyaz.errors import SvyazError
from svyaz.node.api import Api, Caller
from svyaz.node.authn import Authenticated, IdentityAuthenticator, seconds_left
from svyaz.node.config import GatewayConfig, IdentityConfigSection
from svyaz.node.delivery import LocalDelivery
from svyaz.node.errors import FrameError, InvalidField
from svyaz.node.frames import Frame, answer_frame, encode_frame, error_frame, hello_frame, parse_frame
from svyaz.node.listen import bound_port, open_listeners
from svyaz.node.metrics import NodeMetrics
from svyaz.node.session_sweeper import SessionSweeper
from svyaz.rbac.principal import Principal

GOING_AWAY = 1001
MESSAGE_TOO_BIG = 1009
# Application close codes (4000-4999): the client should sign in again, not just reconnect.
SESSION_REVOKED = 4001
TOKEN_EXPIRED = 4002
TOO_SLOW = 4003  # the connection fell too far behind its live events: reconnect, catch up from history
SLOW_CLOSE_GRACE_S = 5.0  # how long a connection told to go may take to accept its last frame and the close

logger = logging.getLogger("svyaz.node.gateway")


class Gateway:
    def __init__(self, config: GatewayConfig, *, region: str, node_id: str, metrics: NodeMetrics,
                 api: Api | None = None, authenticator: IdentityAuthenticator | None = None,
                 identity: IdentityConfigSection | None = None, delivery: LocalDelivery | None = None) -> None:
        """Without `api` and `authenticator` the gateway serves only hello and ping (tests of the
        transport); a node always passes both."""
        self._config = config
        self._api = api
        self._authenticator = authenticator
        self._identity = identity
        self._delivery = delivery
        self._hello = hello_frame(region=region, node_id=node_id)
        self._metrics = metrics
        self._accepting = trio.CancelScope()
        self._draining = False
        # Handshakes in flight count too, so a burst cannot overshoot max_connections.
        self._active = 0
        self._open: set[WebSocketConnection] = set()
        self._sweeper = (SessionSweeper(authenticator.revoked_sessions, interval_s=identity.session_check_interval_s)
                         if authenticator is not None and identity is not None else None)
        self._sweeping = trio.CancelScope()

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled; started with the bound port once listening."""
        listeners = await open_listeners(self._config.host, self._config.port, key="gateway.port")
        port = bound_port(listeners)
        # The connections outlive the accept loop: drain() stops accepting, then closes them.
        async with trio.open_nursery() as connections:
            if self._sweeper is not None:
                connections.start_soon(self._sweep_sessions)
            await connections.start(self._accept, listeners, connections)
            logger.info("gateway listening", extra={"host": self._config.host, "port": port})
            task_status.started(port)

    async def drain(self) -> None:
        """Stop accepting, close every open connection with 1001, return once the clients answered."""
        self._draining = True
        self._accepting.cancel()
        async with trio.open_nursery() as closing:
            for connection in list(self._open):
                closing.start_soon(connection.aclose, GOING_AWAY, "node shutting down")
        self._sweeping.cancel()

    async def _sweep_sessions(self) -> None:
        assert self._sweeper is not None
        with self._sweeping:
            await self._sweeper.run()

    async def _accept(
        self,
        listeners: list[trio.SocketListener],
        connections: trio.Nursery,
        *,
        task_status: trio.TaskStatus[list[trio.SocketListener]],
    ) -> None:
        with self._accepting:
            await trio.serve_listeners(
                self._serve_stream, listeners, handler_nursery=connections, task_status=task_status
            )

    async def _serve_stream(self, stream: trio.SocketStream) -> None:
        """One TCP connection, from the WebSocket handshake to the closed socket.

        This does what trio-websocket's WebSocketServer would, but owns the stream and its reader
        task: after a rejected handshake trio-websocket 0.12 leaves the socket open until garbage
        collection, which is exactly when a node at max_connections cannot spare descriptors.
        """
        try:
            async with stream, trio.open_nursery() as reader:
                request = None
                with trio.move_on_after(self._config.handshake_timeout_s):
                    request = await wrap_server_stream(
                        reader, stream, max_message_size=self._config.max_frame_bytes
                    )
                if request is None:
                    reader.cancel_scope.cancel()  # the client never finished its handshake
                elif self._draining or self._active >= self._config.max_connections:
                    await self._refuse(request)
                    reader.cancel_scope.cancel()
                elif (caller := await self._caller_for(request)) is None:
                    reader.cancel_scope.cancel()  # refused with 401: a token was given and is not valid
                else:
                    await self._serve_request(request, caller)
                    # The reader task completes the closing handshake and then ends by itself;
                    # a client that never answers the close frame gets the handshake timeout.
                    reader.cancel_scope.deadline = trio.current_time() + self._config.handshake_timeout_s
        except Exception:
            # A bug met by one connection must not take every other connection down with it.
            logger.exception("gateway connection failed")

    async def _refuse(self, request: WebSocketRequest) -> None:
        self._metrics.gateway_connections.labels(outcome="rejected").inc()
        with contextlib.suppress(ConnectionClosed):  # the client may leave before hearing the answer
            await request.reject(503, body=b"node shutting down or at max_connections; retry another node")

    async def _caller_for(self, request: WebSocketRequest) -> Caller | None:
        """The connection's caller: anonymous, or the account of a valid `Authorization: Bearer` token."""
        caller = Caller(address=self._client_address(request))
        token = _bearer_token(request.headers)
        if token is None or self._authenticator is None:
            return caller
        try:
            _apply(caller, await self._authenticator.authenticate(token))
        except SvyazError as err:
            self._metrics.gateway_connections.labels(outcome="unauthenticated").inc()
            body = json.dumps({"code": err.code, "message": str(err)}).encode()
            with contextlib.suppress(ConnectionClosed):
                await request.reject(401, extra_headers=[("Content-Type", "application/json")], body=body)
            return None
        return caller

    def _client_address(self, request: WebSocketRequest) -> str:
        peer = str(request.remote.address) if hasattr(request.remote, "address") else str(request.remote)
        trusted = {address for address in self._config.trusted_proxies.split(",") if address}
        if peer in trusted:
            forwarded = _header(request.headers, b"x-forwarded-for")
            if forwarded:
                # The last hop is the one our trusted proxy added; earlier ones the client could forge.
                return forwarded.split(",")[-1].strip()[:64] or peer
        return peer

    async def _serve_request(self, request: WebSocketRequest, caller: Caller) -> None:
        self._active += 1
        try:
            connection = await request.accept()
            self._metrics.gateway_connections.labels(outcome="accepted").inc()
            self._metrics.gateway_open_connections.inc()
            self._open.add(connection)
            try:
                await self._converse(connection, caller)
            finally:
                self._open.discard(connection)
                self._metrics.gateway_open_connections.dec()
        except ConnectionClosed as closed:
            if closed.reason is not None and closed.reason.code == MESSAGE_TOO_BIG:
                self._metrics.gateway_frame_errors.labels(code="frame_too_large").inc()
        finally:
            self._active -= 1

    async def _converse(self, connection: WebSocketConnection, caller: Caller) -> None:
        """Hello, then answer each message in order until the connection closes (ConnectionClosed)."""
        if self._draining:
            # drain() began while this handshake was in flight, so it did not see this connection.
            await connection.aclose(GOING_AWAY, "node shutting down")
            return
        closed: ConnectionClosed | None = None
        async with trio.open_nursery() as watchers:
            try:
                # Live events are attached before the hello: a client that has the hello misses nothing.
                await self._start_delivery(watchers, connection, caller)
                await self._send(connection, self._hello)
                await self._answer(connection, caller, watchers)
            except ConnectionClosed as err:
                closed = err  # re-raised outside, so it is not wrapped in the nursery's group
            watchers.cancel_scope.cancel()
        if closed is not None:
            raise closed

    async def _answer(self, connection: WebSocketConnection, caller: Caller, watchers: trio.Nursery) -> None:
        """Answer each message in order; an `authenticate` frame restarts the session watchdog."""
        watch = self._watch_session(watchers, connection, caller, None)
        while True:
            message = await connection.get_message()
            self._metrics.gateway_frames_received.inc()
            try:
                frame = parse_frame(message)
                if frame.get("type") == "call" and self._api is not None:
                    reply = await self._api.handle(caller, frame)
                elif frame.get("type") == "authenticate" and self._authenticator is not None:
                    was_anonymous = caller.principal.anonymous
                    reply = await self._reauthenticate(caller, frame)
                    watch = self._watch_session(watchers, connection, caller, watch)
                    if was_anonymous:
                        await self._start_delivery(watchers, connection, caller)
                else:
                    reply = answer_frame(frame)
            except FrameError as err:
                reply = error_frame(err)
            if reply["type"] == "error":
                self._metrics.gateway_frame_errors.labels(code=reply["code"]).inc()
            await self._send(connection, reply)

    async def _reauthenticate(self, caller: Caller, frame: Frame) -> Frame:
        """An `authenticate` frame: a fresh access token for the same connection (or a first one)."""
        token = frame.get("access_token")
        if not isinstance(token, str) or not token:
            raise InvalidField('authenticate needs an "access_token" string', request_id=frame.get("id"))
        try:
            authenticated = await self._authenticator.authenticate(token)
        except SvyazError as err:
            return error_frame(err, frame.get("id"))
        if not caller.principal.anonymous and caller.principal.actor != authenticated.account:
            # One connection, one account: switching accounts means a new connection.
            return {"type": "error", "id": frame.get("id"), "code": "account_mismatch",
                    "message": f"this connection belongs to {caller.principal.actor}; open a new one"}
        _apply(caller, authenticated)
        return {"type": "authenticated", "id": frame.get("id"), "account": authenticated.account,
                "session_id": authenticated.session_id, "expires_at": authenticated.expires_at}

    async def _start_delivery(self, nursery: trio.Nursery, connection: WebSocketConnection, caller: Caller) -> None:
        """Live events for the connection's account, once it has one (one account per connection);
        returns once they are attached."""
        if self._delivery is not None and not caller.principal.anonymous:
            await nursery.start(self._push_events, connection, caller.principal.actor)

    async def _push_events(self, connection: WebSocketConnection, account: str, *,
                           task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        assert self._delivery is not None
        send, receive = trio.open_memory_channel[Frame](self._config.outbox_size)
        sending = trio.CancelScope()
        told_to_go = False

        def too_slow() -> None:
            nonlocal told_to_go
            if not told_to_go:
                told_to_go = True
                send.close()  # ends the loop below, which then closes the connection
                # A peer that stopped reading leaves the frame in hand stuck in the socket: give it
                # a moment, then give up on it.
                sending.deadline = trio.current_time() + SLOW_CLOSE_GRACE_S

        async with self._delivery.attach(account, send, too_slow):
            task_status.started()
            with sending:
                async for frame in receive:
                    if told_to_go:
                        break  # the backlog is not worth sending: the client catches up from history
                    await self._send(connection, frame)
        if told_to_go:
            self._metrics.gateway_frame_errors.labels(code="too_slow").inc()
            # The close frame waits behind what the peer has not read. After a send was abandoned
            # half-way nothing more may be written (it would be garbage to the peer): the socket is
            # just closed, and the peer sees the connection drop (1006) instead of 4003.
            with trio.move_on_after(0 if sending.cancelled_caught else SLOW_CLOSE_GRACE_S):
                await connection.aclose(TOO_SLOW, "too far behind; reconnect and fetch the history")

    def _watch_session(self, nursery: trio.Nursery, connection: WebSocketConnection, caller: Caller,
                       previous: trio.CancelScope | None) -> trio.CancelScope | None:
        """(Re)start the watchdog of an authenticated connection; returns its cancel scope."""
        if previous is not None:
            previous.cancel()
        if caller.session_id is None or self._sweeper is None or self._identity is None:
            return None
        scope = trio.CancelScope()
        nursery.start_soon(self._watch, scope, connection, caller)
        return scope

    async def _watch(self, scope: trio.CancelScope, connection: WebSocketConnection, caller: Caller) -> None:
        """Close the connection when its session is revoked (found by the sweeper) or its access
        token expires; ask for a fresh token `reauth_lead_s` before that."""
        assert self._sweeper is not None and self._identity is not None
        assert caller.session_id is not None and caller.access_expires_at is not None
        asked = False
        with scope, self._sweeper.watching(caller.session_id) as revoked:
            while True:
                left = seconds_left(caller.access_expires_at)
                if left <= 0:
                    await connection.aclose(TOKEN_EXPIRED, "access token expired; authenticate again")
                    return
                if not asked and left <= self._identity.reauth_lead_s:
                    await self._send(connection, {"type": "reauth", "expires_at": caller.access_expires_at})
                    asked = True
                next_deadline = left if asked else left - self._identity.reauth_lead_s
                with trio.move_on_after(max(next_deadline, 0.05)):
                    await revoked.wait()
                if revoked.is_set():
                    await connection.aclose(SESSION_REVOKED, "session revoked; sign in again")
                    return

    async def _send(self, connection: WebSocketConnection, frame: Frame) -> None:
        await connection.send_message(encode_frame(frame))
        self._metrics.gateway_frames_sent.labels(type=frame["type"]).inc()


def _header(headers: list[tuple[bytes, bytes]], wanted: bytes) -> str | None:
    for name, value in headers:
        if name.lower() == wanted:
            return value.decode("ascii", errors="replace")
    return None


def _bearer_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    value = _header(headers, b"authorization")
    if value is None or value[:7].lower() != "bearer ":
        return None
    return value[7:].strip() or None


def _apply(caller: Caller, authenticated: Authenticated) -> None:
    caller.principal = Principal.account(authenticated.account, second_factor=authenticated.second_factor)
    caller.session_id = authenticated.session_id
    caller.access_expires_at = authenticated.expires_at
