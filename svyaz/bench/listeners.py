"""A process of the channel bench holding many WebSocket connections that only listen, and saying
when each one had each new post of a channel.

Thousands of simulated subscribers in one trio process measure mostly that process: a post
reaches every socket at once, and the SDK's per-frame work (wsproto, channels, a task hop per
step) is done for all of them before the first arrival is even noted. Here one epoll loop per
process reads raw sockets and notes the time as each read returns, parsing only what it must: the
figures are then the node's, as close as one machine allows.

    python -m svyaz.bench.listeners URL CHANNEL FIRST_INDEX < tokens.json

stdin: a JSON list of access tokens. stdout: `ready <n>` once every connection has its hello,
then one line `<seq> <subscriber index> <unix time>` per post of CHANNEL as it arrives, and
`closed <index>` for a connection the node ended.
"""

from __future__ import annotations

import base64
import json
import os
import select
import socket
import sys
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

CREATED = b'"message.created"'
TEXT, CLOSE = 0x1, 0x8


class ListenerError(Exception):
    pass


def connect(host: str, port: int, token: str) -> tuple[socket.socket, bytearray]:
    """A WebSocket to the gateway, signed in with `token`; the bytes read past the handshake."""
    sock = socket.create_connection((host, port), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                  f"Authorization: Bearer {token}\r\n\r\n").encode())
    response = bytearray()
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(4096)
        if not chunk:
            raise ListenerError("the node closed the connection during the handshake")
        response += chunk
    head, _, rest = bytes(response).partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise ListenerError(f"the node refused the connection: {head.splitlines()[0].decode(errors='replace')}")
    sock.setblocking(False)
    return sock, bytearray(rest)


def frames(buffer: bytearray) -> Iterator[tuple[int, bytes]]:
    """Complete frames at the start of `buffer` (server frames: unmasked), removed as they are read."""
    while len(buffer) >= 2:
        opcode, length, offset = buffer[0] & 0x0F, buffer[1] & 0x7F, 2
        if length == 126:
            if len(buffer) < 4:
                return
            length, offset = int.from_bytes(buffer[2:4], "big"), 4
        elif length == 127:
            if len(buffer) < 10:
                return
            length, offset = int.from_bytes(buffer[2:10], "big"), 10
        if len(buffer) < offset + length:
            return
        payload = bytes(buffer[offset:offset + length])
        del buffer[:offset + length]
        yield opcode, payload


def post_seq(payload: bytes, channel: bytes) -> int | None:
    """The seq of a `message.created` frame of `channel`, None for any other frame."""
    if CREATED not in payload or channel not in payload:
        return None
    frame = json.loads(payload)
    if frame.get("kind") != "message.created" or frame.get("chat") != channel.decode():
        return None
    return (frame.get("message") or {}).get("seq")


class Listeners:
    def __init__(self, channel: bytes, expected: int) -> None:
        self.channel = channel
        self.expected = expected
        self.hellos = 0

    def read(self, index: int, buffer: bytearray, at: float, lines: list[str]) -> None:
        """Note what the frames now complete in `buffer` say."""
        for opcode, payload in frames(buffer):
            if opcode == CLOSE:
                lines.append(f"closed {index}")
            elif opcode == TEXT:
                if payload.startswith(b'{"type":"hello"'):
                    self.hellos += 1
                    if self.hellos == self.expected:
                        lines.append(f"ready {self.hellos}")
                elif (seq := post_seq(payload, self.channel)) is not None:
                    lines.append(f"{seq} {index} {at:.6f}")


def connect_patiently(host: str, port: int, token: str, attempts: int = 30) -> tuple[socket.socket, bytearray]:
    """`connect`, again while the node answers 503 (not ready: its store or Kafka is slow to answer)."""
    for attempt in range(1, attempts + 1):
        try:
            return connect(host, port, token)
        except ListenerError as err:
            if " 503" not in str(err) or attempt == attempts:
                raise
            time.sleep(min(0.25 * attempt, 5.0))
    raise AssertionError("unreachable")


def main(argv: list[str]) -> int:
    url, channel, first = argv[0], argv[1].encode(), int(argv[2])
    tokens = json.load(sys.stdin)
    target = urlsplit(url)
    listeners = Listeners(channel, len(tokens))
    sockets: dict[int, tuple[int, socket.socket, bytearray]] = {}
    poller = select.epoll()
    lines: list[str] = []
    for number, token in enumerate(tokens):
        sock, buffer = connect_patiently(target.hostname or "127.0.0.1", target.port or 80, token)
        sockets[sock.fileno()] = (first + number, sock, buffer)
        poller.register(sock.fileno(), select.EPOLLIN)
        listeners.read(first + number, buffer, time.time(), lines)   # a hello that came with the handshake
    flush(lines)
    while True:
        for fd, _mask in poller.poll():
            index, sock, buffer = sockets[fd]
            try:
                chunk = sock.recv(1 << 16)
            except BlockingIOError:
                continue
            at = time.time()
            if not chunk:
                poller.unregister(fd)
                lines.append(f"closed {index}")
                continue
            buffer += chunk
            listeners.read(index, buffer, at, lines)
        flush(lines)


def flush(lines: list[str]) -> None:
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
        lines.clear()


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (KeyboardInterrupt, BrokenPipeError):
        sys.exit(0)
