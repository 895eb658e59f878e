"""The HTTP side port: GET /healthz, /readyz and /metrics for load balancers and Prometheus, and
/federation for `svyaz federation status`.

`SideRoutes` decides the response from the method and path alone (no I/O); `serve_http_connection`
speaks HTTP/1.1 through h11 on any trio stream, with keep-alive, and closes a connection whose next
request does not arrive complete within the request timeout.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from http import HTTPStatus

import h11
import trio
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from svyaz.node.config import HttpConfig
from svyaz.node.listen import bound_port, open_listeners
from svyaz.node.metrics import NodeMetrics
from svyaz.node.readiness import Readiness
from svyaz.node.redact import redact_secrets

JSON = "application/json"
# Requests are a line and a few headers; anything larger is not a health check.
MAX_REQUEST_HEAD_BYTES = 8 * 1024
RECEIVE_BYTES = 4096

logger = logging.getLogger("svyaz.node.http")


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: bytes
    route: str
    """A closed set of names (healthz, readyz, metrics, federation, unknown) for metric labels."""
    allow: str | None = None


def _json_response(status: int, document: object, route: str, **extra: str) -> Response:
    return Response(status, JSON, json.dumps(document, separators=(",", ":")).encode(), route, **extra)


def render_readiness(readiness: Readiness) -> dict[str, object]:
    """The /readyz body: overall readiness, then each dependency's state, last error and since when."""
    return {
        "ready": readiness.ready,
        "dependencies": {
            name: {
                "state": status.state.value,
                "error": None if status.error is None else redact_secrets(status.error),
                "since": datetime.fromtimestamp(status.since, UTC).isoformat(timespec="milliseconds"),
            }
            for name, status in readiness.dependencies.items()
        },
    }


class SideRoutes:
    def __init__(self, readiness: Callable[[], Readiness], registry: CollectorRegistry,
                 federation: Callable[[], Mapping[str, object]] | None = None) -> None:
        """`federation`: the /federation document (svyaz/node/federation/watch.py), None when
        federation is off."""
        self._readiness = readiness
        self._registry = registry
        self._federation = federation

    def respond(self, method: str, target: str) -> Response:
        path = target.split("?", 1)[0]
        routes = {"/healthz": self._healthz, "/readyz": self._readyz, "/metrics": self._metrics,
                  "/federation": self._federation_status}
        handler = routes.get(path)
        if handler is None:
            return _json_response(404, {"error": "not_found", "message": f"no route {path}"}, "unknown")
        route = path.lstrip("/")
        if method not in ("GET", "HEAD"):
            return _json_response(
                405, {"error": "method_not_allowed", "message": "use GET"}, route, allow="GET, HEAD"
            )
        return handler()

    def _healthz(self) -> Response:
        # Answering at all is the proof of life: the event loop runs and accepts connections.
        return _json_response(200, {"status": "ok"}, "healthz")

    def _readyz(self) -> Response:
        readiness = self._readiness()
        return _json_response(200 if readiness.ready else 503, render_readiness(readiness), "readyz")

    def _metrics(self) -> Response:
        return Response(200, CONTENT_TYPE_LATEST, generate_latest(self._registry), "metrics")

    def _federation_status(self) -> Response:
        if self._federation is None:
            return _json_response(404, {"error": "federation_off",
                                        "message": "federation is not enabled on this node (federation.enabled)"},
                                  "federation")
        return _json_response(200, self._federation(), "federation")


async def serve_http_connection(
    stream: trio.abc.Stream, routes: SideRoutes, metrics: NodeMetrics, *, timeout_s: float
) -> None:
    """Answer requests on `stream` until the client closes, errs, asks to close, or is slower than
    `timeout_s` to send a request and read its response."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES)
    try:
        while True:
            with trio.move_on_after(timeout_s) as deadline:
                keep_open = await _answer_one(stream, conn, routes, metrics)
            if deadline.cancelled_caught or not keep_open:
                return
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        return  # the client went away mid-response; nothing left to tell it
    except Exception:
        # A bug met by one request must not stop the side port that load balancers depend on.
        logger.exception("side port connection failed")
    finally:
        await stream.aclose()


async def _answer_one(
    stream: trio.abc.Stream, conn: h11.Connection, routes: SideRoutes, metrics: NodeMetrics
) -> bool:
    """Read one request and answer it; False when the connection should close."""
    try:
        request = await _receive_request(stream, conn)
    except h11.RemoteProtocolError as err:
        # h11 still lets a server answer a request it could not parse, if no response has started.
        if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            body = {"error": "bad_request", "message": str(err)}
            await _send_response(
                stream, conn, _json_response(err.error_status_hint, body, "unknown"), metrics
            )
        return False
    if request is None:
        return False
    method = request.method.decode("ascii", "replace")
    response = routes.respond(method, request.target.decode("ascii", "replace"))
    await _send_response(stream, conn, response, metrics, with_body=method != "HEAD")
    if conn.our_state is h11.MUST_CLOSE:
        return False
    conn.start_next_cycle()
    return True


async def _receive_request(stream: trio.abc.Stream, conn: h11.Connection) -> h11.Request | None:
    """The next complete request (its body read and dropped), or None once the client has closed."""
    request = None
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await stream.receive_some(RECEIVE_BYTES))
        elif isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.EndOfMessage):
            return request
        elif isinstance(event, h11.ConnectionClosed):
            return None
        # h11.Data: a body means nothing to these routes; it is read and dropped.


async def _send_response(
    stream: trio.abc.Stream,
    conn: h11.Connection,
    response: Response,
    metrics: NodeMetrics,
    *,
    with_body: bool = True,
) -> None:
    headers = [
        ("content-type", response.content_type),
        ("content-length", str(len(response.body))),
        ("cache-control", "no-store"),
    ]
    if response.allow is not None:
        headers.append(("allow", response.allow))
    reason = HTTPStatus(response.status).phrase.encode()
    data = conn.send(h11.Response(status_code=response.status, headers=headers, reason=reason))
    # A HEAD response announces the GET body's length but carries no body.
    if with_body:
        data += conn.send(h11.Data(data=response.body))
    data += conn.send(h11.EndOfMessage())
    await stream.send_all(data)
    metrics.http_requests.labels(route=response.route, status=str(response.status)).inc()


class HttpSidePort:
    def __init__(self, config: HttpConfig, routes: SideRoutes, metrics: NodeMetrics) -> None:
        self._config = config
        self._routes = routes
        self._metrics = metrics

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled; started with the bound port once listening."""
        listeners = await open_listeners(self._config.host, self._config.port, key="http.port")
        handler = partial(
            serve_http_connection,
            routes=self._routes,
            metrics=self._metrics,
            timeout_s=self._config.request_timeout_s,
        )
        port = bound_port(listeners)
        async with trio.open_nursery() as nursery:
            await nursery.start(trio.serve_listeners, handler, listeners)
            logger.info("http side port listening", extra={"host": self._config.host, "port": port})
            task_status.started(port)
