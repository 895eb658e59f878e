"""Arrivals and departures of accounts at this gateway, written to the presence store by one
background task, the latest state per account.

A burst — ten thousand clients dropping at once, then coming back — is then a queue of at most one
entry per account, written at the store's pace, instead of ten thousand tasks each holding a timer
and a place in line for the store's threads (which starved every other store call, the readiness
probe included, and lost departures to their timeouts). An arrival waits until it is written, so a
presence read right after connecting sees it; a departure does not wait.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

import trio

logger = logging.getLogger("svyaz.node.presence")
_RETRY_S = 1.0


class PresenceWriter(Protocol):
    async def set(self, account: str, *, online: bool, at: float) -> None: ...


class PresenceRecorder:
    def __init__(self, store: PresenceWriter, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._pending: dict[str, tuple[bool, float]] = {}
        self._written: dict[str, trio.Event] = {}   # an account's next write, for those waiting on it
        self._more = trio.Event()

    async def arrived(self, account: str) -> None:
        """Record `account` online here; returns once that is written (bound it: the caller's timeout)."""
        await self._enqueue(account, online=True).wait()

    async def left(self, account: str) -> None:
        """Record `account` gone from here, in the background."""
        self._enqueue(account, online=False)

    def _enqueue(self, account: str, *, online: bool) -> trio.Event:
        self._pending[account] = (online, self._clock())
        self._more.set()
        return self._written.setdefault(account, trio.Event())

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            await self._more.wait()
            self._more = trio.Event()
            while self._pending:
                account = next(iter(self._pending))
                online, at = self._pending.pop(account)
                written = self._written.pop(account, None)
                try:
                    await self._store.set(account, online=online, at=at)
                except Exception as err:  # noqa: BLE001 - any store failure: try again, unless superseded
                    logger.warning("presence not recorded; retrying", extra={"account": account, "error": str(err)})
                    self._pending.setdefault(account, (online, at))
                    await trio.sleep(_RETRY_S)
                finally:
                    if written is not None:
                        written.set()   # a failed write ends the wait too: presence is best effort
