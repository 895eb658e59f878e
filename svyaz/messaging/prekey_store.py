"""Prekey bundles in the core database: one document per account, `_id` the account id.

One document keeps every operation a point read or write by `_id` (the only index FerretDB uses,
ADR 0003), and makes a claim one atomic find-and-modify that pops the oldest one-time prekey.
"""

from __future__ import annotations

from typing import Any

import trio
from pymongo import ReturnDocument
from pymongo.database import Database

from svyaz.messaging.store import ThreadedAdapter, blocking

_PUBLIC = {"_id": 0, "identity_key": 1, "signed_prekey": 1, "one_time": 1}


class MongoPrekeys(ThreadedAdapter):
    def __init__(self, core: Database, limiter: trio.CapacityLimiter) -> None:
        super().__init__(limiter)
        self._bundles = core["prekeys"]

    async def get(self, account: str) -> dict[str, Any] | None:
        return await self._run(self._get, account)

    @blocking
    def _get(self, account: str) -> dict[str, Any] | None:
        return self._bundles.find_one({"_id": account}, _PUBLIC)

    async def replace(self, account: str, bundle: dict[str, Any]) -> None:
        await self._run(self._replace, account, bundle)

    @blocking
    def _replace(self, account: str, bundle: dict[str, Any]) -> None:
        self._bundles.replace_one({"_id": account}, bundle, upsert=True)

    async def add(self, account: str, identity_key: str, signed_prekey: dict[str, Any],
                  one_time: list[dict[str, Any]], *, keep: int) -> bool:
        return await self._run(self._add, account, identity_key, signed_prekey, one_time, keep)

    @blocking
    def _add(self, account: str, identity_key: str, signed_prekey: dict[str, Any], one_time: list[dict[str, Any]],
             keep: int) -> bool:
        # Matching the identity key too: if a new device replaced the bundle meanwhile, nothing is mixed in.
        result = self._bundles.update_one(
            {"_id": account, "identity_key": identity_key},
            {"$set": {"signed_prekey": signed_prekey},
             "$push": {"one_time": {"$each": one_time, "$slice": -keep}}})
        return result.matched_count == 1

    async def claim(self, account: str) -> dict[str, Any] | None:
        return await self._run(self._claim, account)

    @blocking
    def _claim(self, account: str) -> dict[str, Any] | None:
        # No projection: FerretDB 1.24 does not implement one in findAndModify.
        popped = self._bundles.find_one_and_update(
            {"_id": account, "one_time.0": {"$exists": True}}, {"$pop": {"one_time": -1}},
            return_document=ReturnDocument.BEFORE)
        if popped is not None:
            return {name: popped[name] for name in _PUBLIC if name != "_id"}
        bundle = self._bundles.find_one({"_id": account}, _PUBLIC)  # none left: the bundle without one
        return None if bundle is None else {**bundle, "one_time": []}
