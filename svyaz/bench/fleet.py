"""The bench's clients: N accounts registered and signed in, each holding one WebSocket whose pushes
are read as they come (the SDK's push buffer is bounded), in pairs that write to each other."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import trio

from svyaz.client.connection import NodeClient, NodeUnreachable, RemoteError, open_node_client
from svyaz.bench.nodeproc import BenchError

PASSWORD = "bench river lantern 2291"
RETRYABLE = frozenset({"unavailable", "throttled", "store_unavailable", "audit_unavailable"})
CONNECT_ATTEMPTS = 3
CLOSE_TIMEOUT_S = 15.0

# (connection index, the pushed frame, time.perf_counter() when it was taken off the SDK's channel)
PushHandler = Callable[[int, dict[str, Any], float], None]


@dataclass
class Member:
    index: int
    account: str
    access_token: str = ""
    refresh_token: str = ""
    client: NodeClient | None = None
    closed: str | None = None     # why its connection ended before the bench ended it
    reauths: int = 0


def partner(index: int) -> int:
    """Members 0-1, 2-3, ... write to each other."""
    return index ^ 1


@dataclass
class Fleet:
    url: str
    size: int
    on_push: PushHandler = lambda index, frame, at: None
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    members: list[Member] = field(init=False)

    def __post_init__(self) -> None:
        if self.size < 2 or self.size % 2:
            raise ValueError("the fleet needs an even number of clients, at least 2")
        self.members = [Member(i, f"@b{self.tag}n{i:05d}:ru") for i in range(self.size)]
        self._stop = trio.Event()

    async def enrol(self, *, concurrency: int) -> float:
        """Register and sign in every member over `concurrency` anonymous connections; seconds taken."""
        began = time.perf_counter()
        pending = iter(self.members)
        async with trio.open_nursery() as nursery:
            for _ in range(min(concurrency, self.size)):
                nursery.start_soon(self._enrol_some, pending)
        return time.perf_counter() - began

    async def _enrol_some(self, pending) -> None:
        async with open_node_client(self.url) as client:
            for member in pending:
                await retry_setup_call(client.call, "account.register", account=member.account, password=PASSWORD)
                tokens = await retry_setup_call(client.call, "auth.login", account=member.account, password=PASSWORD,
                                         device="bench")
                member.access_token, member.refresh_token = tokens["access_token"], tokens["refresh_token"]

    async def run(self, *, concurrency: int, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Connect every member (at most `concurrency` handshakes at a time), report the seconds it
        took through `task_status`, and hold the connections until `close()`."""
        began = time.perf_counter()
        limiter = trio.CapacityLimiter(concurrency)
        async with trio.open_nursery() as holders:
            async with trio.open_nursery() as connecting:
                for member in self.members:
                    connecting.start_soon(self._connect, holders, member, limiter)
            task_status.started(time.perf_counter() - began)

    async def _connect(self, holders: trio.Nursery, member: Member, limiter: trio.CapacityLimiter) -> None:
        async with limiter:
            await holders.start(self._hold, member)

    async def _hold(self, member: Member, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        for attempt in range(1, CONNECT_ATTEMPTS + 1):
            try:
                async with open_node_client(self.url, access_token=member.access_token) as client:
                    member.client = client
                    task_status.started()
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(self._read_pushes, member, client, nursery)
                        await self._stop.wait()
                        nursery.cancel_scope.cancel()
                return
            except Exception as err:  # noqa: BLE001 - one lost client must not end the bench
                if member.client is not None:  # lost after connecting: the run counts its sends as failed
                    member.closed = member.closed or f"client failed: {err!r}"[:200]
                    return
                if not isinstance(err, (NodeUnreachable, RemoteError)) or attempt == CONNECT_ATTEMPTS:
                    raise BenchError(f"{member.account} could not connect: {err}") from err
                await trio.sleep(0.5 * attempt)

    async def _read_pushes(self, member: Member, client: NodeClient, nursery: trio.Nursery) -> None:
        async for frame in client.pushes:
            at = time.perf_counter()
            if frame.get("type") == "reauth":
                nursery.start_soon(self._reauthenticate, member, client)
            else:
                self.on_push(member.index, frame, at)
        if not self._stop.is_set():
            reason = client.closed.reason if client.closed else None
            member.closed = f"{reason.code} {reason.reason or ''}".strip() if reason else "connection lost"

    async def _reauthenticate(self, member: Member, client: NodeClient) -> None:
        """The node asks for a fresh access token before the current one expires (a node not
        started by the bench keeps its own, shorter, token lifetime)."""
        tokens = await client.call("auth.refresh", refresh_token=member.refresh_token)
        member.access_token, member.refresh_token = tokens["access_token"], tokens["refresh_token"]
        await client.authenticate(member.access_token)
        member.reauths += 1

    def close(self) -> None:
        """Let every member leave its connection (a normal WebSocket close)."""
        self._stop.set()

    def connection_losses(self) -> dict[str, int]:
        losses: dict[str, int] = {}
        for member in self.members:
            if member.closed:
                losses[member.closed] = losses.get(member.closed, 0) + 1
        return losses


async def retry_setup_call(call, action: str, **args: Any) -> dict[str, Any]:
    """A setup call, retried while the node says to come back (roles loading, throttling)."""
    with trio.fail_after(120):
        while True:
            try:
                return await call(action, **args)
            except RemoteError as err:
                if err.code not in RETRYABLE:
                    raise BenchError(f"{action} for {args.get('account')} failed: {err.code}: {err}") from err
                await trio.sleep(err.retry_after_s or 0.2)
