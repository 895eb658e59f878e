"""The audit log in the region's compliance database (pymongo, blocking; callers on trio use threads).

Database `<prefix>_compliance`, collections `audit` (entries) and `audit_checkpoints`, each with a
unique index on `seq`. FerretDB has no transactions, so one chain across the node's processes rests
on that index: read the head, build entry head+1, insert; whoever loses the race for a seq gets
DuplicateKeyError, reads the new head and tries again (bounded). Every driver error becomes
AuditUnavailable, so callers fail closed.

Reading the head must not cost a scan of the log: on our FerretDB only an exact `{_id: <string>}`
filter uses an index (ADR 0003), and a sorted query reads every entry. So each entry is stored
under `_id` `entry_id(seq)`, the store remembers the last entry it appended or saw, and an append
reads forward from it by `_id` (seq+1, seq+2, ... until one is missing) to catch what other
processes appended. A store's first append starts from a hint, a document in `audit_head` that
names a recent seq (written every HINT_EVERY entries); only without a usable hint, and in the rare
fallbacks below, does it run the sorted query.
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
HEAD_HINT = "audit_head"
HEAD_HINT_ID = "head"
# Every how many entries the appender records its seq in the head hint: a new store reads at most
# about this many entries forward from it.
HINT_EVERY = 32
SEQ_INDEX = "seq_unique"
DEFAULT_BATCH = 500
DEFAULT_MAX_ATTEMPTS = 50
# Forward reads per head lookup before the sorted query is cheaper (a store that sat idle while
# other processes appended thousands of entries).
MAX_PROBES = 256
_NUMERIC = {"$type": "number"}
_VERIFY_HINT = "run `svyaz audit verify` and look for tampering"

P = ParamSpec("P")
R = TypeVar("R")


def database_name(database_prefix: str) -> str:
    return f"{database_prefix}_compliance"


def entry_id(seq: int) -> str:
    """The `_id` an entry is stored under: a string (only those are looked up through the index),
    zero-padded so that `_id` order is seq order. Not hashed; entries written before this scheme
    have ObjectIds and verify all the same."""
    return f"seq:{seq:012d}"


def entry_document(entry: ChainEntry) -> dict[str, Any]:
    return {"_id": entry_id(entry.seq), **entry.to_document()}


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
        self._hint = database[HEAD_HINT]
        self._max_attempts = max_attempts
        self._clock = clock
        # Appends from one process take turns: only other processes make an insert lose the race.
        self._append_lock = threading.Lock()
        self._indexes_ready = False
        # The newest entry this store appended or read (None: an empty log); valid only once
        # `_head_known`. Guarded by `_append_lock`.
        self._head: ChainEntry | None = None
        self._head_known = False

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
        """Append `event` as the next entry of the chain; AuditUnavailable if that cannot be done.

        Costs one read by `_id` and one insert, plus one read per entry other processes appended
        since this store's last append; a store's first append reads the head hint and up to about
        HINT_EVERY entries forward from it (or, without a usable hint, runs the sorted query).
        """
        with self._append_lock:
            if not self._indexes_ready:
                self.ensure_indexes()  # before the first insert: without it two seqs could collide
            for attempt in range(self._max_attempts):
                entry = next_entry(self._head_entry(), event, format_time(self._clock()))
                try:
                    self._entries.insert_one(entry_document(entry))
                except DuplicateKeyError:
                    stored = self._entries.find_one({"_id": entry_id(entry.seq)}, projection={"hash": True})
                    if stored is not None and stored.get("hash") == entry.hash:
                        self._remember(entry)  # a retried insert that had in fact succeeded
                        return entry
                    if stored is None:
                        # The seq is taken by an entry not stored under entry_id(seq): one written
                        # before this scheme (or by a process that predates it), which reading
                        # forward by `_id` cannot see. Find the head with the sorted query instead.
                        self._sorted_head()
                else:
                    self._remember(entry)
                    if entry.seq % HINT_EVERY == 0:
                        self._write_hint(entry.seq)
                    return entry
                # Random, growing pauses spread out processes that keep colliding on the same seq.
                time.sleep(random.uniform(0, min(0.05, 0.001 * 2**attempt)))
            raise AuditUnavailable(
                f"audit entry not appended: other writers took the next seq "
                f"{self._max_attempts} times in a row",
                hint="the audit log is overloaded; retry the action",
            )

    def _remember(self, entry: ChainEntry | None) -> None:
        self._head, self._head_known = entry, True

    def _head_entry(self) -> ChainEntry | None:
        """The entry the next append links to: the newest one stored, as far as this store can tell.

        From the remembered head, read forward by `_id` until an entry is missing. If someone deleted
        the newest entries while this store remembers them, the next entry still follows the
        remembered head (its seq and prev_hash): the deleted seqs stay a gap that `verify` reports
        as `deleted`, rather than being taken again by entries linked over the deletion. A store
        that starts after such a deletion cannot know of it and continues from the stored head, as
        any reader of the database alone would (what `verify` sees of that is what it sees of a
        truncated log: docs/audit.md, "What it cannot see"). A store whose remembered head lies
        below a deleted range that later entries still follow (or a new store whose head hint
        does) reads forward into the gap and fills its first seqs, linked to the entry before the
        gap; the entries after the gap still name the deleted ones as predecessors, so `verify`
        reports the deletion there.
        """
        if not self._head_known:
            hinted = self._hinted_entry()
            if hinted is None:
                return self._sorted_head()
            self._remember(hinted)
        head = self._head
        for _ in range(MAX_PROBES):
            seq = head.seq + 1 if head is not None else 1
            document = self._entries.find_one({"_id": entry_id(seq)})
            if document is None:
                self._head = head
                return head
            head = self._parse_head(document, expected_seq=seq)
        # Far behind: the sorted query now costs less than reading on one by one.
        return self._sorted_head()

    def _hinted_entry(self) -> ChainEntry | None:
        """The stored entry the head hint names, None if there is no such hint or entry.

        Only a place to start reading forward from: a hint set too low costs reads, one too high or
        naming a deleted entry finds nothing and the sorted query decides.
        """
        hint = self._hint.find_one({"_id": HEAD_HINT_ID})
        seq = hint.get("seq") if hint is not None else None
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            return None
        document = self._entries.find_one({"_id": entry_id(seq)})
        return None if document is None else self._parse_head(document, expected_seq=seq)

    def _sorted_head(self) -> ChainEntry | None:
        # A scan of the whole log on FerretDB. Only numeric seqs: a string seq sorts above every number.
        document = self._entries.find_one({"seq": _NUMERIC}, sort=[("seq", DESCENDING)])
        head = None if document is None else self._parse_head(document)
        self._remember(head)
        if head is not None and "_id" in document and document["_id"] == entry_id(head.seq):
            self._write_hint(head.seq)  # spare the next new store this scan
        return head

    def _write_hint(self, seq: int) -> None:
        # `$max` so the hint never moves back; not atomic on FerretDB, which only costs a hint
        # that is a little low. The entry is stored already: a failed hint must not fail the append.
        try:
            self._hint.update_one({"_id": HEAD_HINT_ID}, {"$max": {"seq": seq}}, upsert=True)
        except PyMongoError:
            pass

    @staticmethod
    def _parse_head(document: dict, *, expected_seq: int | None = None) -> ChainEntry:
        try:
            entry = parse_entry(document)
        except MalformedEntry as err:
            # Linking to a damaged head would bury the damage; fail closed and raise the alarm.
            raise AuditUnavailable(
                f"the last audit entry (seq {document.get('seq')!r}) is malformed: {err}", hint=_VERIFY_HINT
            ) from err
        if expected_seq is not None and entry.seq != expected_seq:
            # Only a change made directly in the database moves an entry away from its `_id`.
            raise AuditUnavailable(
                f"the audit entry stored as {document.get('_id')!r} has seq {entry.seq}, not {expected_seq}",
                hint=_VERIFY_HINT,
            )
        return entry

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
