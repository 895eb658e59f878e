"""Copies role assignments from the store into this process's role index.

Reloads are serialised by one lock: a full reload that read the store before a grant was written
cannot overwrite the account reload that read it after, because the account reload waits for the
full reload to finish and then reads the store again. Each reload ends in one synchronous swap of
the index, so the guard never sees a half-applied change.
"""

from __future__ import annotations

import logging

import trio

from svyaz.rbac.index import RoleIndex, build_table
from svyaz.rbac.ports import RoleStore
from svyaz.rbac.roles import GRANTABLE_ROLES

logger = logging.getLogger("svyaz.rbac.loader")


class RoleLoader:
    def __init__(self, store: RoleStore, index: RoleIndex) -> None:
        self._store = store
        self._index = index
        self._lock = trio.Lock()
        self.full_reloads = 0
        self.account_reloads = 0

    async def load_all(self) -> int:
        """Replace the whole index from the store; returns the number of assignments."""
        async with self._lock:
            assignments = await self._store.load_all()
            _warn_unknown(assignments)
            # Built off the event loop: a large node's table takes a noticeable time to build.
            table = await trio.to_thread.run_sync(build_table, assignments)
            self._index.swap(table)
            self.full_reloads += 1
        return len(assignments)

    async def load_account(self, account: str) -> None:
        """Replace one account's assignments (every region) from the store."""
        async with self._lock:
            assignments = await self._store.list(account=account)
            _warn_unknown(assignments)
            self._index.replace_account(account, assignments)
            self.account_reloads += 1


def _warn_unknown(assignments) -> None:
    # Kept in the index (it grants nothing: no policy rule names it) but worth an operator's look,
    # e.g. a role removed from policy.csv whose assignments were left in the store.
    unknown = sorted({a.role for a in assignments if a.role not in GRANTABLE_ROLES})
    if unknown:
        logger.warning("role assignments name roles that cannot be granted", extra={"roles": unknown})
