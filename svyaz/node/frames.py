"""The gateway's wire protocol as pure functions: parse a client frame, answer it, render errors.

Frames are JSON objects in WebSocket text messages, each with a "type". No I/O here: the gateway
moves the bytes, this module decides what they mean. `error_frame` is the only place a typed
FrameError becomes a wire error. The protocol reference is docs/node.md.
"""

from __future__ import annotations

import json
from typing import Any

from svyaz.errors import SvyazError
from svyaz.node.errors import BinaryFrame, FrameError, InvalidField, MalformedJson, NotAnObject, UnknownType

PROTOCOL_VERSION = 1

Frame = dict[str, Any]


def hello_frame(*, region: str, node_id: str) -> Frame:
    """The first frame on every connection: who answered and which protocol it speaks."""
    return {"type": "hello", "region": region, "node": node_id, "protocol": PROTOCOL_VERSION}


def parse_frame(message: str | bytes) -> Frame:
    """The JSON object in a text message; raises a FrameError saying what is wrong with it."""
    if isinstance(message, bytes):
        raise BinaryFrame("binary messages are not part of the protocol; send JSON as a text message")
    try:
        frame = json.loads(message)
    except (ValueError, RecursionError) as err:
        # RecursionError: JSON nested deeper than the decoder's stack, still the client's mistake.
        raise MalformedJson(f"not valid JSON: {err}") from None
    if not isinstance(frame, dict):
        raise NotAnObject(f"a frame is a JSON object, got {type(frame).__name__}")
    return frame


def answer_frame(frame: Frame) -> Frame:
    """The reply to one parsed frame; raises a FrameError for a type or field it cannot serve."""
    kind = frame.get("type")
    request_id = frame.get("id")
    if kind == "ping":
        if not _is_id(request_id):
            raise InvalidField('ping needs an "id" (a string or an integer)', request_id=request_id)
        return {"type": "pong", "id": request_id}
    if not isinstance(kind, str):
        raise UnknownType('a frame needs a "type" string', request_id=request_id)
    raise UnknownType(f"unknown frame type {kind[:64]!r}", request_id=request_id)


def error_frame(err: SvyazError, request_id: object = None) -> Frame:
    """The wire form of any typed error: its stable code, message, hint and retry delay if any.

    Carries the offending frame's "id" when it had a usable one (a FrameError knows its own).
    """
    if isinstance(err, FrameError):
        request_id = err.request_id
    frame: Frame = {"type": "error", "code": err.code, "message": str(err)}
    if _is_id(request_id):
        frame["id"] = request_id
    if err.hint:
        frame["hint"] = err.hint
    retry_after = getattr(err, "retry_after_s", None)
    if retry_after is not None:
        frame["retry_after_s"] = retry_after
    return frame


def encode_frame(frame: Frame) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def _is_id(value: object) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
