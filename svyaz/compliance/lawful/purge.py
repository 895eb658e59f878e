"""The retention purge against the node's store (issue 6; docs/compliance.md, "Retention and
legal hold"): the rule of `retention` applied to the three bulkhead databases and the chat list.

How it walks, given that FerretDB serves only `_id` equality from an index (no range scan on
another index is cheap, and a query per chat over `messages` would scan the collection each time):

- the chats of a bulkhead come from its `heads` collection (one small document per chat, one scan);
- each chat is walked by point reads of `<chat>#<seq>` from where its last purge stopped
  (`retention_floors`, one document per chat, written only by the purge), oldest first, and the
  walk stops at the first message inside retention. A purge that finds nothing to do costs about
  one point read per chat, and a purged or deleted message is never read again;
- chats under legal hold are skipped whole. The subjects come from the lawful-access store (its
  open requests); their groups and channels are found from the membership documents (the truth),
  the per-account membership index and the subjects' chat lists, whichever names more;
- chat-list previews older than content retention are blanked too (their text is a copy of a
  message's content), with the chat list's own version check.

A blanked message keeps its metadata and gets `purged: <time>`; its sealed envelope is removed with
the fields it sealed. A deleted message takes its client-id record with it.

The report holds counts only, per bulkhead; nothing of a message, a chat id or an account name
goes into it or into the logs. Each run (dry runs included) writes one audit entry with the counts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import trio
from pymongo import ASCENDING, MongoClient
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError

from svyaz.compliance.audit.event import AuditEvent, AuditSink
from svyaz.compliance.lawful.errors import LawfulStoreUnavailable
from svyaz.compliance.lawful.retention import (
    BLANKED_FIELDS,
    ChatPurge,
    Cutoffs,
    Floors,
    LegalHold,
    RetentionPolicy,
    StoredMessage,
    purge_chat,
)
from svyaz.messaging.at_rest import CHAT_PREVIEW, MESSAGE_CONTENT
from svyaz.messaging.ids import message_id

logger = logging.getLogger("svyaz.compliance.retention")

BULKHEADS = ("private", "groups", "channels")
FLOORS = "retention_floors"
RUNS = "retention_runs"       # in `<prefix>_compliance`: one marker per scheduled slot (`claim_slot`)
AUDIT_ACTION = "retention.purge"


class HoldSource(Protocol):
    """Who is under legal hold: the subjects of a region's open lawful-access requests
    (svyaz.compliance.lawful.store.MongoLawfulStore)."""

    async def open_subjects(self, region: str) -> set[str]: ...


@dataclass
class BulkheadCounts:
    chats: int = 0
    chats_held: int = 0
    content_purged: int = 0
    messages_deleted: int = 0


@dataclass
class PurgeReport:
    """Counts only. `subjects_held` is how many accounts are under legal hold, never who."""

    region: str
    dry_run: bool
    started_at: float
    content_days: int
    metadata_days: int
    subjects_held: int = 0
    finished_at: float = 0.0
    bulkheads: dict[str, BulkheadCounts] = field(default_factory=lambda: {name: BulkheadCounts() for name in BULKHEADS})
    previews_purged: int = 0
    previews_held: int = 0

    def totals(self) -> BulkheadCounts:
        total = BulkheadCounts()
        for counts in self.bulkheads.values():
            for name, value in asdict(counts).items():
                setattr(total, name, getattr(total, name) + value)
        return total

    def as_dict(self) -> dict[str, Any]:
        return {"region": self.region, "dry_run": self.dry_run, "started_at": self.started_at,
                "finished_at": self.finished_at, "content_days": self.content_days,
                "metadata_days": self.metadata_days, "subjects_held": self.subjects_held,
                "bulkheads": {name: asdict(counts) for name, counts in self.bulkheads.items()},
                "totals": asdict(self.totals()),
                "chat_list": {"previews_purged": self.previews_purged, "previews_held": self.previews_held}}

    def audit_detail(self) -> dict[str, str]:
        detail = {"dry_run": str(self.dry_run).lower(), "content_days": str(self.content_days),
                  "metadata_days": str(self.metadata_days), "subjects_held": str(self.subjects_held),
                  "previews_purged": str(self.previews_purged), "previews_held": str(self.previews_held)}
        for name, counts in self.bulkheads.items():
            for key, value in asdict(counts).items():
                detail[f"{name}_{key}"] = str(value)   # no "." in a stored key (FerretDB)
        return detail


# --- one chat's messages, for the pure walk ---------------------------------------------------------

class MongoChatMessages:
    """`retention.ChatMessages` over one chat of a bulkhead database (blocking)."""

    def __init__(self, database: Database, chat: str, now: float) -> None:
        self._messages = database["messages"]
        self._client_ids = database["client_ids"]
        self._chat = chat
        self._now = now
        self._senders: dict[int, tuple[str, str]] = {}

    def read(self, seq: int) -> StoredMessage | None:
        doc = self._messages.find_one({"_id": message_id(self._chat, seq)},
                                      {"sent_at": 1, "purged": 1, "sender": 1, "client_id": 1})
        if doc is None:
            return None
        self._senders = {seq: (doc.get("sender", ""), doc.get("client_id", ""))}
        return StoredMessage(sent_at=float(doc.get("sent_at", 0.0)), purged="purged" in doc)

    def delete(self, seq: int) -> None:
        self._messages.delete_one({"_id": message_id(self._chat, seq)})
        sender, client_id = self._senders.get(seq, ("", ""))
        if sender and client_id:
            self._client_ids.delete_one({"_id": f"{self._chat}|{sender}|{client_id}"})

    def blank(self, seq: int) -> None:
        self._messages.update_one({"_id": message_id(self._chat, seq)},
                                  {"$set": {**BLANKED_FIELDS, "purged": self._now},
                                   "$unset": {MESSAGE_CONTENT.envelope: ""}})


# --- legal hold ---------------------------------------------------------------------------------------

def find_hold(client: MongoClient, prefix: str, subjects: Iterable[str]) -> LegalHold:
    """The subjects and every group or channel any of them takes part in (blocking)."""
    held = frozenset(subjects)
    if not held:
        return LegalHold()
    names = sorted(held)
    shared: set[str] = set()
    chat_list = client[f"{prefix}_chatlist"]
    for subject in names:
        doc = chat_list["memberships"].find_one({"_id": subject}, {"chats": 1})
        shared.update(doc.get("chats", ()) if doc else ())
    shared.update(doc["chat"] for doc in chat_list["entries"].find({"account": {"$in": names}}, {"chat": 1})
                  if "chat" in doc)
    for bulkhead in ("groups", "channels"):
        members = client[f"{prefix}_{bulkhead}"]["members"]
        shared.update(doc["chat"] for doc in members.find({"account": {"$in": names}}, {"chat": 1}) if "chat" in doc)
    return LegalHold(subjects=held, shared_chats=frozenset(shared))


# --- the purge ----------------------------------------------------------------------------------------

def purge_store(client: MongoClient, prefix: str, policy: RetentionPolicy, hold: LegalHold, *, now: float,
                dry_run: bool = False) -> PurgeReport:
    """Apply `policy` to the node's messages and chat-list previews (blocking; run it in a thread)."""
    report = PurgeReport(region=policy.region, dry_run=dry_run, started_at=now, content_days=policy.content_days,
                         metadata_days=policy.metadata_days, subjects_held=len(hold.subjects))
    cutoffs = policy.cutoffs(now)
    for bulkhead in BULKHEADS:
        _purge_bulkhead(client[f"{prefix}_{bulkhead}"], cutoffs, hold, now, dry_run, report.bulkheads[bulkhead])
    _purge_previews(client[f"{prefix}_chatlist"], cutoffs, hold, dry_run, report)
    report.finished_at = time.time()
    return report


def _purge_bulkhead(database: Database, cutoffs: Cutoffs, hold: LegalHold, now: float, dry_run: bool,
                    counts: BulkheadCounts) -> None:
    floors_of = database[FLOORS]
    # One cursor over the heads in _id order: FerretDB would scan `heads` again for every page query.
    for head in database["heads"].find({}, {"last_seq": 1}, sort=[("_id", ASCENDING)], batch_size=500):
        chat = head["_id"]
        if not isinstance(chat, str):
            continue
        counts.chats += 1
        if hold.holds(chat):
            counts.chats_held += 1
            continue
        stored = floors_of.find_one({"_id": chat})
        floors = Floors(metadata=int(stored.get("metadata", 1)), content=int(stored.get("content", 1))) \
            if stored else Floors()
        done: ChatPurge = purge_chat(MongoChatMessages(database, chat, now), int(head.get("last_seq", 0)), floors,
                                     cutoffs, dry_run=dry_run)
        counts.messages_deleted += done.deleted
        counts.content_purged += done.blanked
        if not dry_run and done.floors != floors:
            # Two purges at once may both write: the later floor may be the lower one, which only
            # means the next purge reads a few purged messages again.
            floors_of.replace_one({"_id": chat}, {"metadata": done.floors.metadata, "content": done.floors.content,
                                                  "at": now}, upsert=True)


def _purge_previews(chat_list: Database, cutoffs: Cutoffs, hold: LegalHold, dry_run: bool,
                    report: PurgeReport) -> None:
    entries = chat_list["entries"]
    for doc in entries.find({"last_at": {"$lt": cutoffs.content}}, batch_size=500):
        if doc.get("preview_at", doc.get("last_at", 0.0)) >= cutoffs.content:
            continue   # edited since: its preview is newer than the message it shows
        if CHAT_PREVIEW.envelope not in doc and not doc.get("preview"):
            continue
        if hold.holds(doc.get("chat", "")) or doc.get("account") in hold.subjects:
            report.previews_held += 1
            continue
        if not dry_run and not _blank_preview(entries, doc):
            continue
        report.previews_purged += 1


def _blank_preview(entries, doc: dict[str, Any]) -> bool:
    """The chat list's own compare-and-set (svyaz.messaging.store.MongoChatListStore._put): the
    entry is rewritten only if its version is still the one read, and bumped; a newer message
    changed it meanwhile (and with it the preview) otherwise."""
    blanked = {name: value for name, value in doc.items() if name not in ("_id", CHAT_PREVIEW.envelope)}
    blanked.update(preview="", version=int(doc.get("version", 0)) + 1)
    current = entries.find_one({"_id": doc["_id"]}, {"version": 1})
    if current is None or current.get("version") != doc.get("version"):
        return False
    entries.replace_one({"_id": doc["_id"]}, blanked)
    return True


# --- one run, audited ---------------------------------------------------------------------------------

def claim_slot(client: MongoClient, prefix: str, region: str, slot: int, *, now: float) -> bool:
    """True for the one process of the node that claims scheduled run `slot` (an insert against a
    unique `_id`: atomic on FerretDB too); False if another process has it."""
    try:
        client[f"{prefix}_compliance"][RUNS].insert_one({"_id": f"{region}|{slot}", "claimed_at": now})
    except DuplicateKeyError:
        return False
    return True


def release_slot(client: MongoClient, prefix: str, region: str, slot: int) -> None:
    """Give a failed run's slot back, so the next attempt may claim it."""
    client[f"{prefix}_compliance"][RUNS].delete_one({"_id": f"{region}|{slot}"})


class PurgeUnavailable(LawfulStoreUnavailable):
    """The store or the legal-hold source did not answer: nothing was purged after that point."""

    code = "purge_unavailable"


async def run_purge(client: MongoClient, prefix: str, policy: RetentionPolicy, holds: HoldSource,
                    audit: AuditSink, *, actor: str, role: str, request_id: str, dry_run: bool = False,
                    limiter: trio.CapacityLimiter | None = None, now: float | None = None) -> PurgeReport:
    """One purge of `policy.region`: the legal holds first (no holds known, no purge: it fails
    closed), then the walk in a worker thread, then one audit entry with the counts."""
    moment = time.time() if now is None else now
    try:
        subjects = await holds.open_subjects(policy.region)
        hold = await trio.to_thread.run_sync(find_hold, client, prefix, subjects, limiter=limiter)
    except PyMongoError as err:
        raise PurgeUnavailable(f"legal holds could not be read, so nothing was purged: {_reason(err)}") from err
    except LawfulStoreUnavailable as err:
        raise PurgeUnavailable(f"legal holds could not be read, so nothing was purged: {err}") from err
    try:
        report = await trio.to_thread.run_sync(
            lambda: purge_store(client, prefix, policy, hold, now=moment, dry_run=dry_run), limiter=limiter)
    except PyMongoError as err:
        await _record(audit, policy, actor=actor, role=role, request_id=request_id, outcome="failure",
                      detail={"dry_run": str(dry_run).lower(), "reason": "store_unavailable"})
        raise PurgeUnavailable(f"the purge stopped part-way (what it did stays done; the next run "
                               f"continues): {_reason(err)}") from err
    await _record(audit, policy, actor=actor, role=role, request_id=request_id, outcome="success",
                  detail=report.audit_detail())
    totals = report.totals()
    logger.info("retention purge done", extra={
        "region": policy.region, "dry_run": dry_run, "content_purged": totals.content_purged,
        "messages_deleted": totals.messages_deleted, "chats_held": totals.chats_held,
        "previews_purged": report.previews_purged, "seconds": round(report.finished_at - report.started_at, 3)})
    return report


async def _record(audit: AuditSink, policy: RetentionPolicy, *, actor: str, role: str, request_id: str,
                  outcome: str, detail: dict[str, str]) -> None:
    await audit.record(AuditEvent(actor=actor, role=role, action=AUDIT_ACTION, target=f"region:{policy.region}",
                                  region=policy.region, request_id=request_id, outcome=outcome, detail=detail))


def _reason(err: Exception) -> str:
    return str(err).split(", Timeout:")[0]
