"""The role-assignment store adapter (pymongo): `<prefix>_core`.`role_assignments`.

One document per (account, region, role), its `_id` derived from the three, so a grant is an insert
that a duplicate makes a no-op and a revoke is a delete: each write is a single document, which is
all FerretDB promises without transactions. pymongo blocks, so every call runs in a worker thread
behind the store's CapacityLimiter.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from functools import partial
from typing import TypeVar

import trio
from pymongo import ASCENDING, MongoClient
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError, PyMongoError

from svyaz.rbac.assignment import RoleAssignment
from svyaz.rbac.errors import RoleStoreUnavailable

COLLECTION = "role_assignments"
T = TypeVar("T")


def core_database(database_prefix: str) -> str:
    return f"{database_prefix}_core"


class MongoRoleStore:
    """The RoleStore port over a MongoClient the caller owns."""

    def __init__(self, client: MongoClient, database_prefix: str, limiter: trio.CapacityLimiter) -> None:
        self._collection: Collection = client[core_database(database_prefix)][COLLECTION]
        self._limiter = limiter
        self._indexed = False

    async def grant(self, assignment: RoleAssignment) -> bool:
        granted_at = assignment.granted_at or datetime.now(timezone.utc)
        document = {
            "_id": _document_id(assignment.account, assignment.region, assignment.role),
            "account": assignment.account, "role": assignment.role, "region": assignment.region,
            "granted_by": assignment.granted_by, "granted_at": granted_at,
        }
        return await self._run(self._insert_new, document)

    async def revoke(self, account: str, role: str, region: str) -> bool:
        result = await self._run(self._collection.delete_one, {"_id": _document_id(account, region, role)})
        return result.deleted_count == 1

    async def list(self, *, account: str | None = None, region: str | None = None) -> list[RoleAssignment]:
        query = {key: value for key, value in (("account", account), ("region", region)) if value is not None}
        return await self._run(self._find, query)

    async def load_all(self) -> list[RoleAssignment]:
        return await self._run(self._find, {})

    def _insert_new(self, document: dict) -> bool:
        try:
            self._collection.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    def _find(self, query: dict) -> list[RoleAssignment]:
        assignments = [_assignment(document) for document in self._collection.find(query)]
        return sorted(assignments, key=lambda a: (a.account, a.region, a.role))

    def _ensure_index(self) -> None:
        # On first use rather than at open: a node starts while its store is down, and waits.
        if not self._indexed:
            self._collection.create_index([("account", ASCENDING)], name="account")
            self._indexed = True

    def _call(self, fn: Callable[..., T], *args) -> T:
        self._ensure_index()
        return fn(*args)

    async def _run(self, fn: Callable[..., T], *args) -> T:
        try:
            return await trio.to_thread.run_sync(partial(self._call, fn, *args), limiter=self._limiter,
                                                 abandon_on_cancel=True)
        except PyMongoError as err:
            # Server-selection errors append a topology dump after the reason; the reason is enough.
            raise RoleStoreUnavailable(f"role store: {str(err).split(', Timeout:')[0]}") from err


@asynccontextmanager
async def open_role_store(
    url: str, database_prefix: str, *, timeout_s: float = 2.0, max_threads: int = 4
) -> AsyncIterator[MongoRoleStore]:
    """A MongoRoleStore on its own client, closed on exit. Opening does not wait for the server."""
    limiter = trio.CapacityLimiter(max_threads)
    timeout_ms = int(timeout_s * 1000)
    connect = partial(MongoClient, url, appname="svyaz-rbac", tz_aware=True, serverSelectionTimeoutMS=timeout_ms,
                      connectTimeoutMS=timeout_ms, socketTimeoutMS=timeout_ms)
    try:
        # A thread: a mongodb+srv:// URL makes the constructor resolve DNS.
        client = await trio.to_thread.run_sync(connect, limiter=limiter, abandon_on_cancel=True)
    except (PyMongoError, ValueError) as err:  # pymongo's URI parser raises ValueError for some hosts
        raise RoleStoreUnavailable(f"role store url cannot be used: {err}") from err
    try:
        yield MongoRoleStore(client, database_prefix, limiter)
    finally:
        with trio.move_on_after(timeout_s, shield=True):
            await trio.to_thread.run_sync(client.close, abandon_on_cancel=True)


def _document_id(account: str, region: str, role: str) -> str:
    # JSON, not a separator: account ids are caller-chosen text and may contain any separator.
    return json.dumps([account, region, role], separators=(",", ":"))


def _assignment(document: dict) -> RoleAssignment:
    granted_at = document.get("granted_at")
    if isinstance(granted_at, datetime) and granted_at.tzinfo is None:
        granted_at = granted_at.replace(tzinfo=timezone.utc)  # a client without tz_aware=True
    return RoleAssignment(account=document["account"], role=document["role"], region=document["region"],
                          granted_by=document.get("granted_by", "-"), granted_at=granted_at)
