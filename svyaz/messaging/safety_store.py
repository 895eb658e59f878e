"""The Mongo-wire adapters for blocks and presence (core database), reports (moderation
database) and the push ledger (notifications database). Every read here is a point read by
`_id`, except the moderators' list of open reports and the list of gateways."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import trio
from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from svyaz.messaging.at_rest import PLAINTEXT, REPORT_EVIDENCE, AtRest
from svyaz.messaging.notifier import Push, push_key
from svyaz.messaging.presence import GatewayState, Sighting, combined
from svyaz.messaging.safety import Report
from svyaz.messaging.store import blocking, ThreadedAdapter


class MongoBlocks(ThreadedAdapter):
    def __init__(self, core: Database, limiter: trio.CapacityLimiter) -> None:
        super().__init__(limiter)
        self._blocks = core["blocks"]

    @blocking
    def ensure_indexes(self) -> None:
        self._blocks.create_index([("blocker", ASCENDING)])

    async def blocks(self, blocker: str, account: str) -> bool:
        return await self._run(self._blocks_one, blocker, account)

    @blocking
    def _blocks_one(self, blocker: str, account: str) -> bool:
        return self._blocks.find_one({"_id": f"{blocker}|{account}"}, {"_id": 1}) is not None

    async def add(self, blocker: str, account: str, at: float) -> bool:
        return await self._run(self._add, blocker, account, at)

    @blocking
    def _add(self, blocker: str, account: str, at: float) -> bool:
        try:
            self._blocks.insert_one({"_id": f"{blocker}|{account}", "blocker": blocker, "account": account, "at": at})
        except DuplicateKeyError:
            return False
        return True

    async def remove(self, blocker: str, account: str) -> bool:
        return await self._run(self._remove, blocker, account)

    @blocking
    def _remove(self, blocker: str, account: str) -> bool:
        return self._blocks.delete_one({"_id": f"{blocker}|{account}"}).deleted_count == 1

    async def blocked_by(self, blocker: str) -> list[str]:
        return await self._run(self._blocked_by, blocker)

    @blocking
    def _blocked_by(self, blocker: str) -> list[str]:
        return sorted(doc["account"] for doc in self._blocks.find({"blocker": blocker}))


FORGET_GATEWAYS_AFTER_S = 7 * 24 * 3600


class MongoPresence(ThreadedAdapter):
    """Presence as one gateway records it (`core.presence`, `<account>|<gateway>`) and as all the
    node's live gateways together say it (svyaz.messaging.presence). Gateways announce themselves
    in `core.presence_gateways` with a heartbeat (`beat`); the few of them are listed at most once
    per `liveness_s / 3`, then each read is one point read per gateway."""

    def __init__(self, core: Database, limiter: trio.CapacityLimiter, *, gateway: str,
                 liveness_s: float = 30.0, clock: Callable[[], float] = time.time) -> None:
        super().__init__(limiter)
        self._presence = core["presence"]
        self._gateways = core["presence_gateways"]
        self._gateway = gateway
        self._epoch = uuid.uuid4().hex   # a new one each start: what an earlier run recorded is gone
        self.liveness_s = liveness_s
        self._clock = clock
        self._known: dict[str, GatewayState] = {}
        self._known_at = float("-inf")

    async def beat(self) -> None:
        """Tell the other gateways this one is alive (call every `liveness_s / 3`)."""
        await self._run(self._beat)

    @blocking
    def _beat(self) -> None:
        self._gateways.replace_one({"_id": self._gateway}, {"epoch": self._epoch, "seen_at": self._clock()},
                                   upsert=True)

    async def set(self, account: str, *, online: bool, at: float) -> None:
        await self._run(self._set, account, online, at)

    @blocking
    def _set(self, account: str, online: bool, at: float) -> None:
        self._presence.replace_one({"_id": f"{account}|{self._gateway}"},
                                   {"epoch": self._epoch, "online": online, "at": at}, upsert=True)

    async def get(self, account: str) -> tuple[bool, float] | None:
        return await self._run(self._get, account)

    @blocking
    def _get(self, account: str) -> tuple[bool, float] | None:
        gateways = self._gateway_states()
        sightings = []
        for gateway in gateways:
            doc = self._presence.find_one({"_id": f"{account}|{gateway}"})
            if doc is not None:
                sightings.append(Sighting(gateway, doc.get("epoch", ""), doc["online"], doc["at"]))
        return combined(sightings, gateways, now=self._clock(), liveness_s=self.liveness_s)

    def _gateway_states(self) -> dict[str, GatewayState]:
        now = self._clock()
        if now - self._known_at > self.liveness_s / 3:
            # A scan, but of a handful of documents (one per gateway that ever ran). Gateways gone
            # for a week are not asked any more: their sightings only said when someone was last
            # seen, and a node restarted under new ids must not read more and more of them.
            self._known = {doc["_id"]: GatewayState(doc["_id"], doc["epoch"], doc["seen_at"])
                           for doc in self._gateways.find({}) if now - doc["seen_at"] <= FORGET_GATEWAYS_AFTER_S}
            self._known_at = now
        # This gateway is alive even before its first beat is read back.
        return {**self._known, self._gateway: GatewayState(self._gateway, self._epoch, now)}


class MongoReports(ThreadedAdapter):
    """Reports, their note and message copies sealed at rest with `at_rest` (REPORT_EVIDENCE)."""

    def __init__(self, moderation: Database, limiter: trio.CapacityLimiter, *, at_rest: AtRest = PLAINTEXT) -> None:
        super().__init__(limiter)
        self._reports = moderation["reports"]
        self._at_rest = at_rest

    @blocking
    def ensure_indexes(self) -> None:
        self._reports.create_index([("status", ASCENDING), ("created_at", ASCENDING)])

    async def add(self, report: Report) -> None:
        await self._run(self._add, report)

    @blocking
    def _add(self, report: Report) -> None:
        self._reports.insert_one(self._at_rest.sealed(REPORT_EVIDENCE, _report_doc(report)))

    async def open(self, *, limit: int) -> list[Report]:
        return await self._run(self._open, limit)

    @blocking
    def _open(self, limit: int) -> list[Report]:
        docs = self._reports.find({"status": "open"}).sort("created_at", ASCENDING).limit(limit)
        return [_report(self._at_rest.opened(REPORT_EVIDENCE, doc)) for doc in docs]


def _report_doc(report: Report) -> dict[str, Any]:
    return {"_id": report.id, "reporter": report.reporter, "account": report.account, "reason": report.reason,
            "note": report.note, "messages": list(report.messages), "created_at": report.created_at,
            "status": report.status, "decided_by": report.decided_by, "decision": report.decision}


def _report(doc: dict[str, Any]) -> Report:
    return Report(id=doc["_id"], reporter=doc["reporter"], account=doc["account"], reason=doc["reason"],
                  note=doc.get("note", ""), messages=tuple(doc.get("messages", ())), created_at=doc["created_at"],
                  status=doc["status"], decided_by=doc["decided_by"], decision=doc["decision"])


class MongoPushLedger(ThreadedAdapter):
    """Pushes recorded once each (`<message id>|<device>`), in the notifications database."""

    def __init__(self, notifications: Database, limiter: trio.CapacityLimiter) -> None:
        super().__init__(limiter)
        self._pushes = notifications["pushes"]

    async def claim(self, push: Push) -> bool:
        return await self._run(self._claim, push)

    @blocking
    def _claim(self, push: Push) -> bool:
        try:
            self._pushes.insert_one({"_id": push_key(push), "account": push.account, "device": push.device,
                                     "topic": push.topic, "chat": push.chat, "seq": push.seq, "at": push.at})
        except DuplicateKeyError:
            return False
        return True
