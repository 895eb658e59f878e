"""The listener processes' reading of raw server frames (svyaz/bench/listeners.py)."""

import json

from svyaz.bench.listeners import CLOSE, TEXT, Listeners, frames, post_seq

CHANNEL = b"c/ru/0123456789abcdef"


def frame(opcode: int, payload: bytes) -> bytes:
    if len(payload) < 126:
        return bytes([0x80 | opcode, len(payload)]) + payload
    if len(payload) < 1 << 16:
        return bytes([0x80 | opcode, 126]) + len(payload).to_bytes(2, "big") + payload
    return bytes([0x80 | opcode, 127]) + len(payload).to_bytes(8, "big") + payload


def event(chat: bytes, seq: int, kind: str = "message.created") -> bytes:
    return json.dumps({"type": "event", "kind": kind, "chat": chat.decode(), "message": {"seq": seq}},
                      separators=(",", ":")).encode()


def test_frames_of_every_length_are_read_and_a_partial_one_waits_for_the_rest():
    short, medium, long = b"a" * 10, b"b" * 300, b"c" * 70_000
    wire = frame(TEXT, short) + frame(TEXT, medium) + frame(TEXT, long) + frame(CLOSE, b"\x03\xe8")
    buffer = bytearray(wire[:-3])

    first = list(frames(buffer))
    buffer += wire[-3:]
    rest = list(frames(buffer))

    assert first == [(TEXT, short), (TEXT, medium), (TEXT, long)]
    assert rest == [(CLOSE, b"\x03\xe8")] and buffer == bytearray()


def test_only_new_posts_of_the_channel_count():
    assert post_seq(event(CHANNEL, 7), CHANNEL) == 7
    assert post_seq(event(b"c/ru/ffffffffffffffff", 7), CHANNEL) is None
    assert post_seq(event(CHANNEL, 7, kind="message.edited"), CHANNEL) is None
    assert post_seq(b'{"type":"reauth"}', CHANNEL) is None


def test_a_listener_says_ready_after_every_hello_then_notes_each_arrival():
    listeners, lines = Listeners(CHANNEL, expected=2), []
    hello = frame(TEXT, b'{"type":"hello","region":"ru","node":"n","protocol":1}')
    listeners.read(0, bytearray(hello), 1.0, lines)
    listeners.read(1, bytearray(hello + frame(TEXT, event(CHANNEL, 3))), 2.5, lines)
    listeners.read(1, bytearray(frame(CLOSE, b"")), 3.0, lines)

    assert lines == ["ready 2", "3 1 2.500000", "closed 1"]
