"""The outbox producer: number, seal and produce the events this region sends to a peer.

`Outbox.send` gives an event the next number of its (destination, stream), seals it with the
node's federation key (`svyaz.federation.envelope.Signer`) and produces it to
`<prefix>outbox.<destination>` keyed by stream, returning once Kafka acknowledged it (idempotent
producer, acks=all). MirrorMaker 2 carries that topic to the peer, whose ledger orders and
de-duplicates by (origin, stream, seq) and event id.

Sending again is safe and expected (a forwarder re-reading after a crash, a retry after
`OutboxUnavailable`): the same event id gets the same number again, and with the same
`created_at_ms` the envelope is the same apart from its randomised signature, which the receiver
ignores as a duplicate. A number once given must be sent eventually: the receiver holds the later
events of its stream until it arrives. So everything the envelope is checked for (fields, size) is
checked before a number is spent on it.

Numbering (`MongoOutboxSeqs`, database `<prefix>_federation`). FerretDB applies a conditional
update (`update_one` / `replace_one` / `find_one_and_update` with a filter on the value read, even
`$inc`) as a read followed by a write, so two writers can both "win" one compare and set; only a
unique key refuses the second insert atomically. Numbers are therefore claimed by insert:

  outbox_seqs    _id `<destination>/<stream>#<seq>`: destination, stream, seq, event_id. The claim:
                 its `_id` makes a number taken once; a unique index on (destination, event_id)
                 makes an event numbered once per destination, even when two allocators race or a
                 crash lost the lookup document below.
  outbox_events  _id `<destination>/<event_id>`: stream, seq. The fast lookup of a re-sent event
                 (a point read); written after the claim, so a crash in between leaves only the
                 claim, which the unique index then finds (a scan, only in that case).
  outbox_heads   _id `<destination>/<stream>`: `last`, a hint where to start looking for the next
                 free number, written at every HEAD_HINT_EVERY-th number only. It may lag (a
                 process's first allocation on the stream reads past it, point reads by `_id`) but
                 never runs ahead, since only claimed numbers are written to it.

Destinations are two letters, so `<destination>/...` keys cannot be read two ways. Numbers start at
1 and have no gaps: every number from 1 up to a claimed one is claimed, because an allocator only
tries the number after a claimed one (or 1). Claims are kept (about 150 bytes per event and peer);
deleting old ones needs a head that can never move back first (not built).

Round trips. Each process remembers the last number it claimed per stream (`_known`, itself a
claimed number), so its next event on that stream is one insert of the claim at the number after
it, then the lookup document: two writes, and every HEAD_HINT_EVERY-th number the hint. Only when
that insert is refused does it read: the lookup document (the event is a re-send: its number), then
the claims from that number on, one point read each, to the first free one (another allocator
numbered meanwhile). A process's first event on a stream reads the lookup document (a re-send after
a restart), then the hint, and tries the number after it the same way.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

import trio
from confluent_kafka import KafkaException
from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError

from svyaz.federation import envelope
from svyaz.federation.envelope import MAX_SAFE_INT, Signer
from svyaz.federation.errors import FederationError, Malformed, ResidencyViolation
from svyaz.messaging.bus import EVENT_PARTITIONS, KafkaEventPublisher, ensure_topic, open_event_publisher
from svyaz.messaging.errors import NotPublished
from svyaz.node.federation.topic_names import outbox_topic
from svyaz.regions import KNOWN_REGIONS

logger = logging.getLogger("svyaz.node.federation.outbox")
T = TypeVar("T")
SEQS = "outbox_seqs"
EVENTS = "outbox_events"
HEADS = "outbox_heads"
# The head hint is written at every HEAD_HINT_EVERY-th number of a stream: a process's first
# allocation on a stream reads at most that many claims past it, and the others write nothing.
HEAD_HINT_EVERY = 16
_EVENT_ID = re.compile(r"[0-9a-f]{32}")
_STREAM = re.compile(r"[!-~]{1,256}")


class OutboxUnavailable(NotPublished):
    """The event was not sent: the federation store or Kafka did not answer in time. Transient:
    send it again (it keeps its number). A NotPublished, so callers that retry unpublished events
    (the forwarder) retry this too."""

    code = "outbox_unavailable"


class OutboxConflict(FederationError):
    """An event id that already has a number on another stream of the same destination: the caller
    gave two events one id. Not transient."""

    code = "outbox_conflict"


class MongoOutboxSeqs:
    """Per (destination, stream) numbers 1, 2, 3, ... without gaps; the same number again for an
    event id already numbered for that destination. pymongo runs in trio worker threads behind
    `limiter`. Safe for any number of concurrent callers, in one process or several."""

    def __init__(self, database: Database, limiter: trio.CapacityLimiter) -> None:
        self._limiter = limiter
        self._seqs = database[SEQS]
        self._events = database[EVENTS]
        self._heads = database[HEADS]
        self._indexed = False
        self._known: dict[str, int] = {}  # a claimed number per stream: where this process looks first

    async def allocate(self, destination: str, stream: str, event_id: str) -> int:
        """The number of `event_id` on (destination, stream): the one it already has, or the next
        free one. OutboxUnavailable if the store does not answer; OutboxConflict if the event is
        numbered on another stream."""
        if destination not in KNOWN_REGIONS:
            raise ValueError(f"destination {destination!r} is not a known region")
        if not isinstance(stream, str) or not _STREAM.fullmatch(stream):
            raise ValueError(f"stream {str(stream)[:80]!r}: expected 1-256 printable ASCII characters")
        if not isinstance(event_id, str) or not _EVENT_ID.fullmatch(event_id):
            raise ValueError(f"event id {str(event_id)[:40]!r}: expected 32 lowercase hex digits")
        return await self._run(self._allocate, destination, stream, event_id)

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        try:
            return await trio.to_thread.run_sync(function, *args, limiter=self._limiter)
        except DuplicateKeyError as err:  # every expected one is handled; this one is not
            raise OutboxUnavailable(f"the federation store refused a write unexpectedly: {_brief(err)}") from err
        except PyMongoError as err:
            raise OutboxUnavailable(f"the federation store did not answer: {_brief(err)}") from err

    def _allocate(self, destination: str, stream: str, event_id: str) -> int:
        self._ensure_indexes()
        key = _stream_key(destination, stream)
        last = self._known.get(key)
        if last is not None and self._insert_claim(key, destination, stream, event_id, last + 1):
            seq = last + 1  # the common case: the number after this process's last one was free
        else:
            numbered = self._events.find_one({"_id": _event_key(destination, event_id)})
            if numbered is not None:  # a re-send
                return self._same_stream(numbered, destination, stream, event_id)
            if last is None:  # this process's first number on the stream
                seq = self._claim_after_hint(key, destination, stream, event_id)
            else:  # taken by another allocator, or refused as a second number of this event
                seq = self._claim_first_free(key, destination, stream, event_id, last + 1)
        try:
            self._events.insert_one({"_id": _event_key(destination, event_id), "stream": stream, "seq": seq})
        except DuplicateKeyError:
            pass  # a concurrent send of the same event wrote it: the claim is unique, so it agrees
        self._record_head(key, seq)
        return seq

    def _insert_claim(self, key: str, destination: str, stream: str, event_id: str, seq: int) -> bool:
        """Claim `seq` for the event: False if it is taken, or if the event holds a number already."""
        try:
            self._seqs.insert_one({"_id": _seq_key(key, seq), "destination": destination, "stream": stream,
                                   "seq": seq, "event_id": event_id})
        except DuplicateKeyError:
            return False
        return True

    def _claim_after_hint(self, key: str, destination: str, stream: str, event_id: str) -> int:
        head = self._heads.find_one({"_id": key})
        seq = (head["last"] if head is not None else 0) + 1
        if self._insert_claim(key, destination, stream, event_id, seq):
            return seq  # a new stream, or a hint that was up to date
        return self._claim_first_free(key, destination, stream, event_id, seq)

    def _claim_first_free(self, key: str, destination: str, stream: str, event_id: str, seq: int) -> int:
        """The event's number from `seq` on (`seq - 1` being claimed): the one it holds, or the
        first free one, claimed. Reads each number before trying it: here this process is behind."""
        while True:
            holder = self._seqs.find_one({"_id": _seq_key(key, seq)}, {"event_id": 1})
            if holder is not None:
                if holder["event_id"] == event_id:  # claimed before a crash lost its lookup document
                    return seq
                seq += 1
                continue
            if self._insert_claim(key, destination, stream, event_id, seq):
                return seq
            if self._seqs.find_one({"_id": _seq_key(key, seq)}, {"_id": 1}) is not None:
                continue  # another allocator took it a moment ago: read on from it
            # Refused by the (destination, event_id) index: the event holds a number already.
            claim = self._seqs.find_one({"destination": destination, "event_id": event_id})
            if claim is None:
                raise OutboxUnavailable(f"the federation store refused to number event {event_id} on "
                                        f"{destination}/{stream[:80]} and holds no number for it")
            return self._same_stream(claim, destination, stream, event_id)

    def _same_stream(self, doc: Mapping[str, Any], destination: str, stream: str, event_id: str) -> int:
        if doc["stream"] != stream:
            raise OutboxConflict(f"event {event_id} is already numbered {doc['seq']} on stream "
                                 f"{doc['stream'][:80]!r} to {destination}, not on {stream[:80]!r}")
        return int(doc["seq"])

    def _record_head(self, key: str, seq: int) -> None:
        if seq > self._known.get(key, 0):
            self._known[key] = seq
        if seq % HEAD_HINT_EVERY:
            return
        try:
            # A hint only: a lost or late write (FerretDB's $max is a read then a write) leaves it
            # behind, never ahead, and the next allocation reads past it.
            self._heads.update_one({"_id": key}, {"$max": {"last": seq}}, upsert=True)
        except DuplicateKeyError:
            pass  # two first hints of a stream upserted at once; the other one's is there

    def _ensure_indexes(self) -> None:
        # Before the first claim: without it an event could be numbered twice.
        if not self._indexed:
            self._seqs.create_index([("destination", ASCENDING), ("event_id", ASCENDING)], unique=True,
                                    name="destination_event_id")
            self._indexed = True


class SendObserver(Protocol):
    """Told of each send Kafka acknowledged, `delay_s` after the event's own time, and of each
    failure the sender will retry (svyaz/node/federation/watch.py counts them per destination)."""

    def sent(self, destination: str, delay_s: float) -> None: ...

    def failed(self, destination: str) -> None: ...


class Outbox:
    """Sends this region's events to its peers' outboxes. Build it with `open_outbox`."""

    def __init__(self, *, signer: Signer, peers: Iterable[str], seqs: MongoOutboxSeqs,
                 publisher: KafkaEventPublisher, bootstrap_servers: str, topic_prefix: str,
                 send_timeout_s: float, ready_topics: Iterable[str] = ()) -> None:
        """`peers`: the regions configured in [federation.peers]; `ready_topics`: outbox topics
        known to exist (the others are created on first use)."""
        self.region = signer.region
        self.peers = frozenset(peers)
        self._signer = signer
        self._seqs = seqs
        self._publisher = publisher
        self._bootstrap_servers = bootstrap_servers
        self._prefix = topic_prefix
        self._timeout_s = send_timeout_s
        self._ready = set(ready_topics)
        self.observer: SendObserver | None = None

    async def send(self, *, destination: str, stream: str, kind: str, payload: Mapping[str, Any],
                   event_id: str, created_at_ms: int) -> int:
        """Number, seal and produce one event; its seq once Kafka acknowledged it. Raises
        ResidencyViolation for a destination that is not a configured peer, a `Refused` kind
        (Malformed, Oversized) for an event no peer would accept, OutboxUnavailable (transient:
        send again) if the store or Kafka did not answer within `send_timeout_s`. The `observer`,
        if set, is told of each acknowledged send and each OutboxUnavailable."""
        try:
            seq = await self._send(destination, stream, kind, payload, event_id, created_at_ms)
        except OutboxUnavailable:
            if self.observer is not None:
                self.observer.failed(destination)
            raise
        if self.observer is not None:
            self.observer.sent(destination, max(time.time() - created_at_ms / 1000, 0.0))
        return seq

    async def _send(self, destination: str, stream: str, kind: str, payload: Mapping[str, Any], event_id: str,
                    created_at_ms: int) -> int:
        self._check_destination(destination)
        # Sealed once as a trial, at the widest seq, before a number is spent: an event that cannot
        # be sealed or is too large would otherwise leave a gap that holds its stream forever.
        envelope.encode(self._seal(destination, stream, MAX_SAFE_INT, kind, payload, event_id, created_at_ms))
        seq = await self._seqs.allocate(destination, stream, event_id)
        record = envelope.encode(self._seal(destination, stream, seq, kind, payload, event_id, created_at_ms))
        topic = outbox_topic(self._prefix, destination)
        what = f"federation event {event_id} (seq {seq}) for {destination}"
        with trio.move_on_after(self._timeout_s) as scope:
            try:
                await self._ensure_topic(topic)
                await self._publisher.produce(topic, key=stream.encode("ascii"), value=record, what=what)
            except NotPublished as err:
                raise OutboxUnavailable(str(err), hint="send it again: it keeps its number") from err
        if scope.cancelled_caught:
            raise OutboxUnavailable(f"Kafka did not acknowledge the {what} within {self._timeout_s:g} s",
                                    hint="send it again: it keeps its number")
        return seq

    def _seal(self, destination: str, stream: str, seq: int, kind: str, payload: Mapping[str, Any],
              event_id: str, created_at_ms: int) -> envelope.Envelope:
        # Left out, the Signer would make up an id or a time, and a re-send would be another event.
        if not isinstance(event_id, str) or not event_id:
            raise Malformed("an outbox event needs its own event id (32 lowercase hex digits)")
        if not isinstance(created_at_ms, int) or isinstance(created_at_ms, bool):
            raise Malformed(f"created_at_ms: expected Unix time in integer milliseconds, got {created_at_ms!r:.40}")
        return self._signer.seal(destination=destination, stream=stream, seq=seq, kind=kind, payload=payload,
                                 event_id=event_id, created_at=created_at_ms)

    def _check_destination(self, destination: str) -> None:
        if destination == self.region:
            raise ResidencyViolation(f"an event from {self.region} to {destination}: a region never federates "
                                     "with itself")
        if destination not in self.peers:
            raise ResidencyViolation(
                f"{str(destination)[:16]!r} is not a peer of {self.region} (peers: "
                f"{', '.join(sorted(self.peers)) or 'none'})",
                hint="a region becomes a peer when its key is pinned in [federation.peers]")

    async def create_topics(self) -> None:
        """Create the outbox topic of each peer unless it exists (`EVENT_PARTITIONS` partitions, so
        every stream's partition is there from the start). If Kafka does not answer, the rest are
        left to their first send."""
        for peer in sorted(self.peers):
            topic = outbox_topic(self._prefix, peer)
            error = f"no answer within {2 * self._timeout_s:g} s"
            with trio.move_on_after(2 * self._timeout_s):
                try:
                    await self._ensure_topic(topic)
                    continue
                except NotPublished as err:
                    error = str(err)
            logger.warning("outbox topic not created yet; it will be at its first send",
                           extra={"topic": topic, "error": error})
            return  # Kafka is away: do not wait for each of the others too

    async def _ensure_topic(self, topic: str) -> None:
        if topic in self._ready:
            return
        try:
            await trio.to_thread.run_sync(_create_topic, self._bootstrap_servers, topic, self._timeout_s,
                                          abandon_on_cancel=True)
        except (KafkaException, TimeoutError) as err:
            raise NotPublished(f"outbox topic {topic} could not be created: {err}") from err
        self._ready.add(topic)


def _create_topic(bootstrap_servers: str, topic: str, timeout_s: float) -> None:
    ensure_topic(bootstrap_servers, topic, partitions=EVENT_PARTITIONS, timeout_s=timeout_s)


@asynccontextmanager
async def open_outbox(*, signer: Signer, peers: Iterable[str], database: Database, limiter: trio.CapacityLimiter,
                      bootstrap_servers: str, topic_prefix: str, client_id: str,
                      send_timeout_s: float = 5.0) -> AsyncIterator[Outbox]:
    """An Outbox producing to `bootstrap_servers` (this region's cluster) and numbering in
    `database` (the node's `<prefix>_federation`). The outbox topics of `peers` are created at
    once, in the background (`Outbox.create_topics`), so the node starts while Kafka is away; a
    topic not created by its first send is created then. On exit, records still queued are
    flushed for up to `send_timeout_s`."""
    peers = frozenset(peers)
    if signer.region in peers:
        raise ResidencyViolation(f"{signer.region} is listed as its own peer")
    seqs = MongoOutboxSeqs(database, limiter)
    # The same producer as message events: idempotent, acks=all, linger.ms 1, records expire
    # after the send timeout; a poller thread serves the delivery reports.
    async with open_event_publisher(bootstrap_servers, {}, client_id=client_id,
                                    timeout_s=send_timeout_s) as publisher, trio.open_nursery() as nursery:
        outbox = Outbox(signer=signer, peers=peers, seqs=seqs, publisher=publisher,
                        bootstrap_servers=bootstrap_servers, topic_prefix=topic_prefix,
                        send_timeout_s=send_timeout_s)
        nursery.start_soon(outbox.create_topics)
        try:
            yield outbox
        finally:
            nursery.cancel_scope.cancel()


def _stream_key(destination: str, stream: str) -> str:
    return f"{destination}/{stream}"


def _seq_key(stream_key: str, seq: int) -> str:
    return f"{stream_key}#{seq}"


def _event_key(destination: str, event_id: str) -> str:
    return f"{destination}/{event_id}"


def _brief(err: PyMongoError) -> str:
    return str(err).split(", Timeout:")[0][:300]
