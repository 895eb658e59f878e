"""The gateway protocol as pure functions: hello, ping/pong, and every recoverable error."""

from __future__ import annotations

import json

import pytest

from svyaz.node.errors import FrameError, NodeError
from svyaz.node.frames import (
    PROTOCOL_VERSION,
    answer_frame,
    encode_frame,
    error_frame,
    hello_frame,
    parse_frame,
)


def reply_to(message: str | bytes) -> dict:
    """What the gateway sends back for one message: the same try/except it uses."""
    try:
        return answer_frame(parse_frame(message))
    except FrameError as err:
        return error_frame(err)


def test_hello_names_region_node_and_protocol():
    assert hello_frame(region="ru", node_id="ru-1") == {
        "type": "hello",
        "region": "ru",
        "node": "ru-1",
        "protocol": 1,
    }
    assert PROTOCOL_VERSION == 1


@pytest.mark.parametrize("request_id", ["abc", 7, 0, "ы"])
def test_ping_gets_pong_with_the_same_id(request_id):
    assert reply_to(json.dumps({"type": "ping", "id": request_id})) == {"type": "pong", "id": request_id}


def test_unknown_fields_are_ignored_for_forward_compatibility():
    assert reply_to('{"type":"ping","id":1,"sent_at":"later"}') == {"type": "pong", "id": 1}


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("{not json", "malformed_json"),
        ("", "malformed_json"),
        ("[" * 100_000 + "]" * 100_000, "malformed_json"),  # nesting deeper than the decoder's stack
        ("[1, 2]", "not_an_object"),
        ('"ping"', "not_an_object"),
        ("null", "not_an_object"),
        ('{"id": 1}', "unknown_type"),
        ('{"type": 5}', "unknown_type"),
        ('{"type": "subscribe"}', "unknown_type"),
        ('{"type": "ping"}', "invalid_field"),
        ('{"type": "ping", "id": true}', "invalid_field"),
        ('{"type": "ping", "id": {"a": 1}}', "invalid_field"),
        (b'{"type":"ping","id":1}', "binary_frame"),
    ],
)
def test_bad_frames_become_error_frames(message, code):
    reply = reply_to(message)
    assert reply["type"] == "error"
    assert reply["code"] == code
    assert isinstance(reply["message"], str) and reply["message"]


def test_error_frame_carries_the_request_id_when_usable():
    assert reply_to('{"type":"subscribe","id":"r1"}') == {
        "type": "error",
        "code": "unknown_type",
        "message": "unknown frame type 'subscribe'",
        "id": "r1",
    }
    assert "id" not in reply_to('{"type":"ping","id":[1]}')


def test_a_long_unknown_type_is_not_echoed_whole():
    reply = reply_to(json.dumps({"type": "x" * 10_000}))
    assert len(reply["message"]) < 200


def test_frame_errors_belong_to_the_node_error_root():
    with pytest.raises(NodeError):
        parse_frame("{")


def test_encoding_is_compact_json():
    assert encode_frame({"type": "pong", "id": "ы"}) == '{"type":"pong","id":"ы"}'
