"""Calls: the one path from a client's `call` frame to a use case, through the guard.

Every handler is registered under an action of the RBAC catalogue, and `Api.handle` checks the
caller against the guard before any handler runs: there is no second way in. Typed errors (every
SvyazError has a stable `code`) become wire errors here and nowhere else.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from svyaz.errors import SvyazError
from svyaz.node.errors import FrameError, InvalidField, UnknownType
from svyaz.node.frames import Frame, error_frame
from svyaz.rbac.actions import CATALOGUE, Catalogue
from svyaz.rbac.principal import Principal

logger = logging.getLogger("svyaz.node.api")


@dataclass
class Caller:
    """Who is on one connection. Starts anonymous; `authenticate` frames change it."""

    address: str
    principal: Principal = field(default_factory=Principal.nobody)
    session_id: str | None = None
    access_expires_at: float | None = None


@dataclass(frozen=True)
class Call:
    caller: Caller
    action: str
    args: Mapping[str, Any]
    request_id: str
    region: str


Handler = Callable[[Call], Awaitable[dict[str, Any]]]


class AccessGuard(Protocol):
    async def check(self, principal: Principal, action: str, region: str, *, target: str = "-",
                    request_id: str, record_allowed: bool = True) -> None: ...


class UnknownAction(FrameError):
    code = "unknown_action"


class NotServed(FrameError):
    code = "not_served"


class Api:
    def __init__(self, *, region: str, guard: AccessGuard, handlers: Mapping[str, Handler],
                 catalogue: Catalogue = CATALOGUE, self_checked: frozenset[str] = frozenset()) -> None:
        """`self_checked`: actions whose use case checks the guard again with its real target and
        region and records the `allowed` entry itself; here they are checked without recording it,
        so each allowed call leaves one entry, not two."""
        strays = sorted((set(handlers) | self_checked) - set(catalogue.names()))
        if strays:
            raise ValueError(f"handlers for actions missing from the RBAC catalogue: {strays}")
        self._self_checked = self_checked
        self._region = region
        self._catalogue = catalogue
        self._guard = guard
        self._handlers = dict(handlers)

    @property
    def actions(self) -> frozenset[str]:
        return frozenset(self._handlers)

    async def handle(self, caller: Caller, frame: Frame) -> Frame:
        """The reply to one `call` frame: a `result`, or an `error` with a stable code."""
        request_id = uuid.uuid4().hex
        frame_id = frame.get("id")
        try:
            action, args = _parse_call(frame)
            if action not in self._catalogue:
                raise UnknownAction(f"no action {action[:64]!r} exists", request_id=frame_id)
            # The guard first, for every action of the catalogue: a refusal is audited even for an
            # action this node does not serve yet.
            await self._guard.check(caller.principal, action, self._region, request_id=request_id,
                                    record_allowed=action not in self._self_checked)
            handler = self._handlers.get(action)
            if handler is None:
                raise NotServed(f"{action} is not served by this node yet", request_id=frame_id)
            data = await handler(Call(caller, action, args, request_id, self._region))
        except FrameError as err:
            err.request_id = frame_id
            return error_frame(err)
        except SvyazError as err:
            return error_frame(err, frame_id)
        except Exception:
            # A bug must not leak internals to the client; the request id ties the log to the report.
            logger.exception("handler failed", extra={"request_id": request_id})
            return {"type": "error", "id": frame_id, "code": "internal_error",
                    "message": f"the node failed to answer (request {request_id})"}
        return {"type": "result", "id": frame_id, "data": data}


def _parse_call(frame: Frame) -> tuple[str, Mapping[str, Any]]:
    action = frame.get("action")
    args = frame.get("args", {})
    if not isinstance(action, str) or not action:
        raise UnknownType('a call needs an "action" string')
    if not isinstance(args, dict):
        raise InvalidField('"args" must be an object')
    return action, args
