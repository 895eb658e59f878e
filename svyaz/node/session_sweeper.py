"""Ending the connections of revoked sessions: one store query per interval for a whole gateway.

Each authenticated connection registers its session and waits on an event; every
`identity.session_check_interval_s` the sweeper asks which of the registered sessions were revoked
(one read of the revocations, whatever their number) and sets their events. A session that ran
out needs no sweep: its connection's access token runs out with it (close 4002). That interval (plus
one query) bounds how long a revoked session's WebSocket stays open. A store that does not answer
leaves every connection open until its access token expires: an outage must not disconnect every
client, and the token's lifetime still bounds it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Iterator
from contextlib import contextmanager

import trio

logger = logging.getLogger("svyaz.node.session_sweeper")

RevokedSessions = Callable[[Collection[str]], Awaitable[set[str]]]


class SessionSweeper:
    def __init__(self, revoked_sessions: RevokedSessions, *, interval_s: float) -> None:
        self._revoked_sessions = revoked_sessions
        self._interval_s = interval_s
        self._watchers: dict[str, set[trio.Event]] = {}

    @contextmanager
    def watching(self, session_id: str) -> Iterator[trio.Event]:
        """An event set once `session_id` is found revoked, for as long as the block runs."""
        revoked = trio.Event()
        self._watchers.setdefault(session_id, set()).add(revoked)
        try:
            yield revoked
        finally:
            events = self._watchers.get(session_id, set())
            events.discard(revoked)
            if not events:
                self._watchers.pop(session_id, None)

    async def run(self) -> None:
        """Sweep until cancelled."""
        while True:
            await trio.sleep(self._interval_s)
            await self.sweep()

    async def sweep(self) -> None:
        session_ids = list(self._watchers)
        if not session_ids:
            return
        try:
            revoked = await self._revoked_sessions(session_ids)
        except Exception as err:  # noqa: BLE001 - any store failure is "unknown", not "revoked"
            logger.warning("session check failed; connections stay open until their tokens expire",
                           extra={"error": str(err), "sessions": len(session_ids)})
            return
        for session_id in revoked:
            for event in self._watchers.get(session_id, ()):
                event.set()
