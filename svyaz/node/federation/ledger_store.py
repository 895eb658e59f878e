"""`MongoLedgerStore`: the inbound ledger's `LedgerStore` port over the node's federation database.

Database `<prefix>_federation` (`federation_database`, shared with the outbox, whose collections
are `outbox_*`), three collections, every read a point read by `_id` (FerretDB serves only those
from an index):

  inbound_streams   _id `<origin>|<stream>` (origin is two letters, so the key cannot be read two ways):
                    `last_seq`, `held` (a list of {seq, id, digest}, sorted by seq) and `version`,
                    which every save increments and checks (compare and set), so a writer that
                    loaded an older state (two consumers on one partition during a rebalance)
                    cannot overwrite a newer one.
  inbound_held      _id `<event id>.<digest hex>`: one held event, as its encoded record
                    (`envelope.encode`) and digest. Content-addressed, so never overwritten with
                    other content; a state names its held events by that key. Kept apart from the
                    state because up to `max_ahead` (1000) envelopes of up to 256 KiB do not fit
                    one document.
  inbound_accepted  _id = event id: origin, stream, seq, digest, `accepted_at` (for a retention sweep).

`save` writes in this order, with no multi-document transactions: the accepted ids, the newly held
events, the state (compare and set), then deletes the held events the new state no longer names.
A crash or a conflict between two writes leaves at most ids without their state (re-admitted, as
the ledger's rule expects) or an unreferenced held document (harmless garbage). A held event is
re-built without the clock-skew check (it passed that when it arrived) and its digest re-checked,
so a damaged document is reported (`LedgerCorrupt`) rather than applied.

Driver errors become `LedgerUnavailable` (transient: the consumer retries), a lost compare and set
`LedgerConflict` (also transient: a retry reloads the state).
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import trio
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError

from svyaz.federation.envelope import MAX_SAFE_INT, decode, encode
from svyaz.federation.errors import FederationError, Refused
from svyaz.federation.ledger import Accepted, StreamState
from svyaz.federation.trust import VerifiedEvent
from svyaz.gost.provider import streebog256

P = ParamSpec("P")
T = TypeVar("T")
STREAMS, HELD, ACCEPTED = "inbound_streams", "inbound_held", "inbound_accepted"
_CACHE_MAX = 10_000  # decoded held events kept in memory; a gap re-reads its held events only once


class LedgerUnavailable(FederationError):
    """The federation database did not answer: transient, the consumer retries the record."""

    code = "ledger_unavailable"


class LedgerConflict(LedgerUnavailable):
    """The stream's state changed since it was loaded (another consumer wrote it): retrying the
    record reloads it. Transient, like every LedgerUnavailable."""

    code = "ledger_conflict"


class LedgerCorrupt(FederationError):
    """A ledger document is damaged (a held event missing, or not matching its digest). Not
    transient: an operator must look at the federation database."""

    code = "ledger_corrupt"


def federation_database(database_prefix: str) -> str:
    """The name of a node's federation database, beside `<prefix>_core` and the others."""
    return f"{database_prefix}_federation"


def _blocking(function: Callable[P, T]) -> Callable[P, T]:
    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return function(*args, **kwargs)
        except PyMongoError as err:
            raise LedgerUnavailable(
                f"the federation ledger did not answer: {str(err).split(', Timeout:')[0]}") from err

    return wrapper


@dataclass(frozen=True)
class _Loaded:
    """What `load` read of a stream, for the `save` that follows: the version to compare and set
    against, and the held documents that already exist."""

    version: int
    held: frozenset[str]


def _stream_key(origin: str, stream: str) -> str:
    return f"{origin}|{stream}"


def _held_key(event_id: str, digest: bytes) -> str:
    return f"{event_id}.{digest.hex()}"


class MongoLedgerStore:
    """The `svyaz.federation.ledger.LedgerStore` port on a pymongo `Database` (the node's
    `<prefix>_federation`). pymongo runs in trio worker threads behind `limiter`.

    One (origin, stream) must be handled by one task at a time (the ledger's own rule): the store
    remembers what `load` read until the `save` that follows, per stream."""

    def __init__(self, database: Database, limiter: trio.CapacityLimiter) -> None:
        self._limiter = limiter
        self._streams = database[STREAMS]
        self._held = database[HELD]
        self._accepted = database[ACCEPTED]
        self._loaded: dict[tuple[str, str], _Loaded] = {}
        self._cache: dict[str, VerifiedEvent] = {}

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        return await trio.to_thread.run_sync(function, *args, limiter=self._limiter)

    async def load(self, origin: str, stream: str) -> StreamState:
        state, loaded = await self._run(self._load, origin, stream)
        self._loaded[(origin, stream)] = loaded
        return state

    async def lookup(self, event_id: str) -> Accepted | None:
        return await self._run(self._lookup, event_id)

    async def save(self, state: StreamState, accepted: tuple[Accepted, ...]) -> None:
        loaded = self._loaded.pop((state.origin, state.stream), None)
        await self._run(self._save, state, accepted, loaded)

    @_blocking
    def _load(self, origin: str, stream: str) -> tuple[StreamState, _Loaded]:
        doc = self._streams.find_one({"_id": _stream_key(origin, stream)})
        if doc is None:
            return StreamState(origin, stream), _Loaded(0, frozenset())
        try:
            entries = [(entry["seq"], entry["id"], bytes(entry["digest"])) for entry in doc["held"]]
            last_seq, version = int(doc["last_seq"]), int(doc["version"])
        except (KeyError, TypeError, ValueError) as err:
            raise LedgerCorrupt(f"the ledger state of {origin} stream {stream[:80]!r} is damaged: {err!r}") from err
        held = tuple(self._held_event(origin, stream, *entry) for entry in entries)
        state = StreamState(origin, stream, last_seq, held)
        return state, _Loaded(version, frozenset(_held_key(event_id, digest) for _seq, event_id, digest in entries))

    def _held_event(self, origin: str, stream: str, seq: int, event_id: str, digest: bytes) -> VerifiedEvent:
        key = _held_key(event_id, digest)
        event = self._cache.get(key)
        if event is not None:
            return event
        where = f"held event {event_id} (seq {seq}) of {origin} stream {stream[:80]!r}"
        doc = self._held.find_one({"_id": key})
        if doc is None:
            raise LedgerCorrupt(f"{where} is named by the state but not stored")
        try:
            # Checked for clock skew when it arrived; a backlog held for long is still valid now.
            envelope = decode(bytes(doc["record"]), local_region=doc["destination"], max_future_skew_ms=MAX_SAFE_INT)
        except (KeyError, TypeError, Refused) as err:
            raise LedgerCorrupt(f"{where} cannot be read back: {err}") from err
        if ((envelope.origin, envelope.stream, envelope.seq, envelope.id) != (origin, stream, seq, event_id)
                or streebog256(envelope.signed_bytes()) != digest):
            raise LedgerCorrupt(f"{where} does not match its digest")
        event = VerifiedEvent(envelope=envelope, digest=digest)
        self._remember(key, event)
        return event

    def _remember(self, key: str, event: VerifiedEvent) -> None:
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[key] = event

    @_blocking
    def _lookup(self, event_id: str) -> Accepted | None:
        doc = self._accepted.find_one({"_id": event_id})
        if doc is None:
            return None
        return Accepted(id=doc["_id"], origin=doc["origin"], stream=doc["stream"], seq=doc["seq"],
                        digest=bytes(doc["digest"]))

    @_blocking
    def _save(self, state: StreamState, accepted: tuple[Accepted, ...], loaded: _Loaded | None) -> None:
        now = datetime.datetime.now(datetime.timezone.utc)
        for record in accepted:  # ids first: an id without its state is admitted again
            self._accepted.replace_one({"_id": record.id}, {
                "origin": record.origin, "stream": record.stream, "seq": record.seq, "digest": record.digest,
                "accepted_at": now}, upsert=True)
        known = loaded.held if loaded is not None else frozenset()
        held_keys = []
        for event in state.held:  # then the held events, before a state that names them
            key = _held_key(event.id, event.digest)
            held_keys.append(key)
            if key not in known:
                self._held.replace_one({"_id": key}, {
                    "origin": event.origin, "stream": event.stream, "seq": event.seq, "id": event.id,
                    "destination": event.envelope.destination, "digest": event.digest,
                    "record": encode(event.envelope)}, upsert=True)
                self._remember(key, event)
        key = _stream_key(state.origin, state.stream)
        if loaded is None:  # saved without a load first (a tool): against whatever is there now
            current = self._streams.find_one({"_id": key})
            version = int(current["version"]) if current is not None else 0
        else:
            version = loaded.version
        doc = {"origin": state.origin, "stream": state.stream, "last_seq": state.last_seq, "version": version + 1,
               "held": [{"seq": event.seq, "id": event.id, "digest": event.digest} for event in state.held]}
        where = f"the ledger state of {state.origin} stream {state.stream[:80]!r}"
        if version == 0:
            try:
                self._streams.insert_one({"_id": key, **doc})
            except DuplicateKeyError as err:
                raise LedgerConflict(f"{where} was created by another writer; retrying reloads it") from err
        elif self._streams.replace_one({"_id": key, "version": version}, doc).matched_count == 0:
            raise LedgerConflict(f"{where} changed since it was loaded; retrying reloads it")
        for gone in known - set(held_keys):  # last: the state no longer names them
            self._held.delete_one({"_id": gone})
            self._cache.pop(gone, None)
