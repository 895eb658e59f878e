"""The audit log in the region's compliance database (pymongo, blocking; callers on trio use threads).

Database `<prefix>_compliance`, collections `audit` (entries) and `audit_checkpoints`, each with a
unique index on `seq`. FerretDB has no transactions, so one chain across the node's processes rests
on that index: read the head, build entry head+1, insert; whoever loses the race for a seq gets
DuplicateKeyError, reads the new head and tries again (bounded). Every driver error becomes
AuditUnavailable, so callers fail closed.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from pymongo import ASCENDING, DESCENDING, MongoClient
from pymongo.errors import DuplicateKeyError, PyMongoError

from svyaz.compliance.audit.chain import ChainEntry, MalformedEntry, format_time, next_entry, parse_entry
from svyaz.compliance.audit.checkpoint import Checkpoint
from svyaz.compliance.audit.event import AuditEvent, AuditUnavailable

ENTRIES = "audit"
CHECKPOINTS = "audit_checkpoints"
SEQ_INDEX = "seq_unique"
DEFAULT_BATCH = 500
DEFAULT_MAX_ATTEMPTS = 50
_NUMERIC = {"$type": "number"}
_VERIFY_HINT = "run `svyaz audit verify` and look for tampering"

P = ParamSpec("P")
R = TypeVar("R")


def database_name(database_prefix: str) -> str:
    return f"{database_prefix}_compliance"


def _unavailable(err: PyMongoError) -> AuditUnavailable:
    # pymongo names hosts, never the URL's credentials.
    reason = _reason(err)
    return AuditUnavailable(f"audit store unavailable: {reason}", hint="check that the region's store is up")


def _reason(err: Exception) -> str:
    # pymongo appends a topology dump or its timeouts after the reason; the reason is enough.
    return str(err).split(", Timeout:")[0].split(" (configured timeouts")[0]


def _store_call(method: Callable[P, R]) -> Callable[P, R]:
    @wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except PyMongoError as err:
            raise _unavailable(err) from err

    return wrapper


def _store_stream(method: Callable[P, Iterator[R]]) -> Callable[P, Iterator[R]]:
    @wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Iterator[R]:
        try:
            yield from method(*args, **kwargs)
        except PyMongoError as err:
            raise _unavailable(err) from err

    return wrapper


class MongoAuditStore:
    def __init__(
        self,
        client: MongoClient,
        database_prefix: str,
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        database = client[database_name(database_prefix)]
        self._client = client
        self._entries = database[ENTRIES]
        self._checkpoints = database[CHECKPOINTS]
        self._max_attempts = max_attempts
        self._clock = clock
        # Appends from one process take turns: only other processes make an insert lose the race.
        self._append_lock = threading.Lock()
        self._indexes_ready = False

    @classmethod
    def connect(
        cls, url: str, database_prefix: str, *, timeout_s: float = 2.0, **options: Any
    ) -> MongoAuditStore:
        """A store over a new client. Does not touch the network: a store that is down at start-up
        only makes each append fail (closed) until it is back."""
        timeout_ms = int(timeout_s * 1000)
        try:
            client = MongoClient(
                url,
                appname="svyaz-audit",
                serverSelectionTimeoutMS=timeout_ms,
                connectTimeoutMS=timeout_ms,
                socketTimeoutMS=timeout_ms,
            )
        # pymongo's URI parser raises a plain ValueError for some malformed hosts and ports.
        except (PyMongoError, ValueError) as err:
            raise AuditUnavailable(
                f"audit store URL cannot be used: {_reason(err)}", hint="fix the store URL"
            ) from err
        return cls(client, database_prefix, **options)

    def close(self) -> None:
        self._client.close()

    @_store_call
    def ensure_indexes(self) -> None:
        """The unique seq indexes that keep concurrent appenders on one chain (idempotent)."""
        for collection in (self._entries, self._checkpoints):
            collection.create_index([("seq", ASCENDING)], unique=True, name=SEQ_INDEX)
        self._indexes_ready = True

    @_store_call
    def append(self, event: AuditEvent) -> ChainEntry:
        """Append `event` as the next entry of the chain; AuditUnavailable if that cannot be done."""
        with self._append_lock:
            if not self._indexes_ready:
                self.ensure_indexes()  # before the first insert: without it two seqs could collide
            for attempt in range(self._max_attempts):
                entry = next_entry(self._head_entry(), event, format_time(self._clock()))
                try:
                    self._entries.insert_one(entry.to_document())
                    return entry
                except DuplicateKeyError:
                    if self._is_ours(entry):  # a retried insert that had in fact succeeded
                        return entry
                # Random, growing pauses spread out processes that keep colliding on the same seq.
                time.sleep(random.uniform(0, min(0.05, 0.001 * 2**attempt)))
            raise AuditUnavailable(
                f"audit entry not appended: other writers took the next seq "
                f"{self._max_attempts} times in a row",
                hint="the audit log is overloaded; retry the action",
            )

    def _head_entry(self) -> ChainEntry | None:
        # Only numeric seqs: a document with a string seq sorts above every number.
        document = self._entries.find_one({"seq": _NUMERIC}, sort=[("seq", DESCENDING)])
        if document is None:
            return None
        try:
            return parse_entry(document)
        except MalformedEntry as err:
            # Linking to a damaged head would bury the damage; fail closed and raise the alarm.
            raise AuditUnavailable(
                f"the last audit entry (seq {document.get('seq')!r}) is malformed: {err}", hint=_VERIFY_HINT
            ) from err

    def _is_ours(self, entry: ChainEntry) -> bool:
        stored = self._entries.find_one({"seq": entry.seq}, projection={"hash": True})
        return stored is not None and stored.get("hash") == entry.hash

    @_store_call
    def head_seq(self) -> int | None:
        """The highest numeric seq stored, None for an empty log."""
        document = self._entries.find_one(
            {"seq": _NUMERIC}, sort=[("seq", DESCENDING)], projection={"seq": True}
        )
        return None if document is None else math.floor(document["seq"])

    @_store_stream
    def iter_entries(
        self, first: int, last: int, *, batch: int = DEFAULT_BATCH, below: bool = False
    ) -> Iterator[dict]:
        """Entries with first <= seq <= last in seq order, one seq range per query, duplicates included.

        `below` also yields the numeric seqs under `first` (0, negatives: inserted junk) first.
        """
        if below:
            yield from self._entries.find({"seq": {"$lt": first}}).sort("seq", ASCENDING)
        low = first
        while low <= last:
            high = min(low + batch, last + 1)
            documents = list(self._entries.find({"seq": {"$gte": low, "$lt": high}}).sort("seq", ASCENDING))
            yield from documents
            if documents:
                low = high
                continue
            # An empty range is a gap (deleted entries): jump to whatever comes next, if anything.
            following = self._entries.find_one(
                {"seq": {"$gte": high, "$lte": last}}, sort=[("seq", ASCENDING)], projection={"seq": True}
            )
            if following is None:
                return
            low = math.floor(following["seq"])

    @_store_stream
    def stray_entries(self) -> Iterator[dict]:
        """Entries whose seq is missing or not a number: they have no place in any seq range."""
        yield from self._entries.find({"seq": {"$not": _NUMERIC}})

    @_store_call
    def locate(self, entry_hash: str) -> list[int]:
        """Seqs of the entries stored with this hash (to explain a broken link; a full scan)."""
        found = self._entries.find({"hash": entry_hash}, {"seq": True}).limit(5)
        return [document["seq"] for document in found]

    @_store_call
    def latest_checkpoint(self) -> dict | None:
        return self._checkpoints.find_one({"seq": _NUMERIC}, sort=[("seq", DESCENDING)])

    @_store_stream
    def iter_checkpoints(self, last: int, *, batch: int = DEFAULT_BATCH) -> Iterator[dict]:
        yield from self._checkpoints.find({"seq": {"$lte": last}}).sort("seq", ASCENDING).batch_size(batch)

    @_store_stream
    def stray_checkpoints(self) -> Iterator[dict]:
        yield from self._checkpoints.find({"seq": {"$not": _NUMERIC}})

    @_store_call
    def insert_checkpoint(self, checkpoint: Checkpoint) -> bool:
        """Store `checkpoint`; False if another process already checkpointed that seq."""
        if not self._indexes_ready:
            self.ensure_indexes()
        try:
            self._checkpoints.insert_one(checkpoint.to_document())
        except DuplicateKeyError:
            return False
        return True
