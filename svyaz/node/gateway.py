"""The client gateway: a trio-websocket server speaking the frames of `frames` (docs/node.md).

Each connection gets a hello, then every message is answered in order. A bad frame gets an error
frame and the connection stays open; a message over `gateway.max_frame_bytes` makes trio-websocket
close the connection with 1009 before the message is buffered whole. trio-websocket never offers
permessage-deflate (its handshake accepts no extensions), so compression cannot inflate a small
frame past the limit. On shutdown, `drain` stops the handshakes and closes each connection with 1001.
"""

from __future__ import annotations

import contextlib
import logging

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest, wrap_server_stream

from svyaz.node.config import GatewayConfig
from svyaz.node.errors import FrameError
from svyaz.node.frames import Frame, answer_frame, encode_frame, error_frame, hello_frame, parse_frame
from svyaz.node.listen import bound_port, open_listeners
from svyaz.node.metrics import NodeMetrics

GOING_AWAY = 1001
MESSAGE_TOO_BIG = 1009

logger = logging.getLogger("svyaz.node.gateway")


class Gateway:
    def __init__(self, config: GatewayConfig, *, region: str, node_id: str, metrics: NodeMetrics) -> None:
        self._config = config
        self._hello = hello_frame(region=region, node_id=node_id)
        self._metrics = metrics
        self._accepting = trio.CancelScope()
        self._draining = False
        # Handshakes in flight count too, so a burst cannot overshoot max_connections.
        self._active = 0
        self._open: set[WebSocketConnection] = set()

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled; started with the bound port once listening."""
        listeners = await open_listeners(self._config.host, self._config.port, key="gateway.port")
        port = bound_port(listeners)
        # The connections outlive the accept loop: drain() stops accepting, then closes them.
        async with trio.open_nursery() as connections:
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
                else:
                    await self._serve_request(request)
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

    async def _serve_request(self, request: WebSocketRequest) -> None:
        self._active += 1
        try:
            connection = await request.accept()
            self._metrics.gateway_connections.labels(outcome="accepted").inc()
            self._metrics.gateway_open_connections.inc()
            self._open.add(connection)
            try:
                await self._converse(connection)
            finally:
                self._open.discard(connection)
                self._metrics.gateway_open_connections.dec()
        except ConnectionClosed as closed:
            if closed.reason is not None and closed.reason.code == MESSAGE_TOO_BIG:
                self._metrics.gateway_frame_errors.labels(code="frame_too_large").inc()
        finally:
            self._active -= 1

    async def _converse(self, connection: WebSocketConnection) -> None:
        """Hello, then answer each message in order until the connection closes (ConnectionClosed)."""
        if self._draining:
            # drain() began while this handshake was in flight, so it did not see this connection.
            await connection.aclose(GOING_AWAY, "node shutting down")
            return
        await self._send(connection, self._hello)
        while True:
            message = await connection.get_message()
            self._metrics.gateway_frames_received.inc()
            try:
                reply = answer_frame(parse_frame(message))
            except FrameError as err:
                self._metrics.gateway_frame_errors.labels(code=err.code).inc()
                reply = error_frame(err)
            await self._send(connection, reply)

    async def _send(self, connection: WebSocketConnection, frame: Frame) -> None:
        await connection.send_message(encode_frame(frame))
        self._metrics.gateway_frames_sent.labels(type=frame["type"]).inc()
