"""The inbound federation consumer: peers' events, applied once and in order (docs/federation.md).

MirrorMaker 2 copies each peer's `outbox.<region>` into this region's cluster as
`<peer>.<prefix>outbox.<region>` (`topic_names.inbound_topic`). `InboundConsumer` reads those
topics as a member of one consumer group and, per record, in order per partition:

    envelope.decode -> PeerKeys.verify -> InboundLedger.offer
        -> Applier.apply(event) for each event the admission makes ready, in order
        -> InboundLedger.commit -> the offset is marked done (committed shortly after)

A crash anywhere re-delivers the record, and the ledger plus appliers idempotent by event id make
that harmless (at least once in, exactly once in effect). A held event (a gap before it) is
stored by the ledger and its offset marked done too.

Failures, by kind:
  - a `Refused` (from decode, verify, the ledger or the applier): the record (or, for a held event
    released by another record, its re-encoded envelope) goes to the dead-letter topic
    `<prefix>federation.dead-letter` on this cluster with headers naming why, is audited
    (`audit_refusal`) and counted (the observer), and the consumer goes on. An event the applier
    refuses still takes its place in its stream: the events after it are applied.
  - a transient error (`transient`, by default the store, Kafka, ledger and audit outages): the
    same record is retried with capped exponential backoff, from the ledger offer on, never
    skipped. One partition waits; the others go on until the dispatcher's buffer for it fills.
  - anything else is a bug: logged with its traceback, dead-lettered with code `apply_failed`,
    counted, audited, and the consumer goes on.

Each partition is served by its own task (`lanes.serve_in_lanes`), so one (origin, stream), which
the outbox keys to one partition, is handled by one task at a time, as the ledger requires.
"""

from __future__ import annotations

import copy
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

import trio
from confluent_kafka import KafkaException

from svyaz.compliance.audit.event import AuditEvent, AuditSink, AuditUnavailable
from svyaz.federation.envelope import decode, encode, now_ms
from svyaz.federation.errors import REFUSAL_CODES, Refused
from svyaz.federation.ledger import InboundLedger
from svyaz.federation.trust import PeerKeys, VerifiedEvent
from svyaz.messaging.bus import (
    EVENT_PARTITIONS,
    EventStream,
    KafkaEventPublisher,
    RawRecord,
    ensure_topic,
    open_event_publisher,
    open_event_stream,
    raw_record,
)
from svyaz.messaging.errors import NotPublished, StoreUnavailable
from svyaz.node.federation.lanes import serve_in_lanes
from svyaz.node.federation.ledger_store import LedgerUnavailable
from svyaz.node.federation.topic_names import dead_letter_topic, inbound_topic
from svyaz.node.metrics import NodeMetrics
from svyaz.regions import KNOWN_REGIONS

logger = logging.getLogger("svyaz.node.federation.inbound")

APPLY_FAILED = "apply_failed"  # an applier (or the pipeline) raised something that is not a refusal: a bug
OTHER_REFUSAL = "refused"  # a Refused whose code is not one of REFUSAL_CODES (an applier's own kind)
DEAD_LETTER_CODES = (*REFUSAL_CODES, OTHER_REFUSAL, APPLY_FAILED)
UNKNOWN_ORIGIN = "unknown"
DEFAULT_TRANSIENT: tuple[type[Exception], ...] = (StoreUnavailable, NotPublished, LedgerUnavailable, AuditUnavailable)
CONSUMER_SETTINGS = {"fetch.wait.max.ms": 10}  # latency over batching, like MirrorMaker 2's settings
_REASON_CHARS = 300
# A dead letter keeps at most this much of the record's value (an oversized record can be up to the
# broker's limit, which the producer's own limit would refuse, and retrying that would never end).
MAX_DEAD_LETTER_VALUE = 512 * 1024
_LANE_BUFFER = 64
_TOPIC_RETRY_S = 1.0

# Dead-letter record headers (values UTF-8).
H_CODE, H_REASON, H_ORIGIN, H_VIA, H_EVENT_ID = "code", "reason", "origin", "via", "event_id"
H_SOURCE_TOPIC, H_SOURCE_PARTITION, H_SOURCE_OFFSET = "source_topic", "source_partition", "source_offset"
H_TRUNCATED = "truncated_from"  # the original value's length, when the dead letter keeps only its start


class Applier(Protocol):
    """Makes one verified event take effect on this node (stores the message, updates the chat).

    Idempotent by event id: the consumer may call it again for an event it already applied (after
    a crash before the ledger commit). Raises a `svyaz.federation.errors.Refused` (e.g.
    `NotPermitted`) for an event it refuses for good, or one of the consumer's transient errors
    (e.g. StoreUnavailable) for an outage of what it depends on, in which case it is called again."""

    async def apply(self, event: VerifiedEvent) -> None: ...


AuditRefusal = Callable[[str | None, str, str, str], Awaitable[None]]
"""`audit_refusal(origin, code, reason, source)`: record that a federation record was refused.
`source` names the record (`<topic>/<partition>/<offset>`); AuditUnavailable is transient."""


def audit_refusals(sink: AuditSink, region: str) -> AuditRefusal:
    """The `audit_refusal` a node passes to InboundConsumer: one audit entry per refusal, actor
    `federation:<origin>`, action `federation.inbound.refuse`, outcome `denied`."""

    async def audit_refusal(origin: str | None, code: str, reason: str, source: str) -> None:
        await sink.record(AuditEvent(
            actor=f"federation:{origin or UNKNOWN_ORIGIN}", role="none", action="federation.inbound.refuse",
            target=source, region=region, request_id=source, outcome="denied",
            detail={"code": code, "reason": reason}))

    return audit_refusal


class InboundObserver(Protocol):
    """What the consumer reports. Called on the trio thread, after the record's outcome is durable
    (so a retried record is not counted twice). `origin` is the event's origin once it verified,
    else the peer whose inbound topic carried the record (None if not even that is known)."""

    def applied(self, event: VerifiedEvent, lag_ms: int) -> None: ...

    def refused(self, origin: str | None, code: str, reason: str) -> None: ...

    def backlog(self, origin: str, records: int) -> None: ...


@dataclass
class OriginStats:
    """What happened to one origin's inbound events on this process, for `svyaz federation status`."""

    applied: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # by code
    last_lag_ms: int | None = None
    backlog: int | None = None  # records not yet fetched, as of the last poll
    last_applied_at: float | None = None  # Unix seconds

    def as_dict(self) -> dict[str, object]:
        return {"applied": self.applied, "refused": dict(self.refused), "last_lag_ms": self.last_lag_ms,
                "backlog": self.backlog, "last_applied_at": self.last_applied_at}


def _origin_label(origin: str | None) -> str:
    return origin if origin in KNOWN_REGIONS else UNKNOWN_ORIGIN


def _code_label(code: str) -> str:
    return code if code in DEAD_LETTER_CODES else OTHER_REFUSAL


class InboundMonitor:
    """The observer a node uses: an in-memory snapshot per origin, and the Prometheus collectors
    of `NodeMetrics` if given. Label values are from closed sets only (known regions or "unknown";
    DEAD_LETTER_CODES), whatever a peer sends."""

    def __init__(self, metrics: NodeMetrics | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self._metrics = metrics
        self._clock = clock
        self._stats: dict[str, OriginStats] = {}

    def _of(self, origin: str) -> OriginStats:
        return self._stats.setdefault(origin, OriginStats())

    def applied(self, event: VerifiedEvent, lag_ms: int) -> None:
        origin, at = _origin_label(event.origin), self._clock()
        stats = self._of(origin)
        stats.applied += 1
        stats.last_lag_ms, stats.last_applied_at = lag_ms, at
        if self._metrics is not None:
            self._metrics.federation_applied.labels(origin).inc()
            self._metrics.federation_lag.labels(origin).observe(lag_ms / 1000)
            self._metrics.federation_last_applied.labels(origin).set(at)

    def refused(self, origin: str | None, code: str, reason: str) -> None:
        origin, code = _origin_label(origin), _code_label(code)
        stats = self._of(origin)
        stats.refused[code] = stats.refused.get(code, 0) + 1
        if self._metrics is not None:
            self._metrics.federation_refused.labels(origin, code).inc()

    def backlog(self, origin: str, records: int) -> None:
        origin = _origin_label(origin)
        self._of(origin).backlog = records
        if self._metrics is not None:
            self._metrics.federation_backlog.labels(origin).set(records)

    def snapshot(self) -> dict[str, OriginStats]:
        """A copy of the per-origin figures (`OriginStats.as_dict` for JSON)."""
        return copy.deepcopy(self._stats)


class InboundConsumer:
    """Consumes every peer's inbound topic on this region's cluster and applies their events.

    region          this node's region: `peer_keys.local_region`
    peers           the regions whose inbound topics are read: by default every other known
                    region, so a peer with no pinned key is refused visibly (`unknown_origin`)
                    rather than ignored
    bootstrap_servers, topic_prefix   this region's Kafka cluster and the node's topic prefix
    ledger          an InboundLedger, normally over `MongoLedgerStore`
    applier         see `Applier`
    audit_refusal   see `AuditRefusal` (`audit_refusals(sink, region)` for the node's audit log)
    observer        see `InboundObserver`; an `InboundMonitor()` without metrics by default
    transient       the errors that mean "retry this record later" (DEFAULT_TRANSIENT)
    group_id        default `<prefix>federation.inbound`; client_id names this process to Kafka
    """

    def __init__(self, *, peer_keys: PeerKeys, bootstrap_servers: str, topic_prefix: str,
                 ledger: InboundLedger, applier: Applier, audit_refusal: AuditRefusal,
                 observer: InboundObserver | None = None, peers: Iterable[str] | None = None,
                 transient: tuple[type[Exception], ...] = DEFAULT_TRANSIENT,
                 group_id: str | None = None, client_id: str = "svyaz-federation-inbound",
                 retry_initial_s: float = 0.1, retry_max_s: float = 5.0, backlog_interval_s: float = 1.0,
                 publish_timeout_s: float = 5.0) -> None:
        self.region = peer_keys.local_region
        peers = sorted(set(peers) if peers is not None else set(KNOWN_REGIONS) - {self.region})
        if self.region in peers:
            raise ValueError(f"a node does not consume its own region ({self.region}) as a peer")
        self.topics: dict[str, str] = {inbound_topic(topic_prefix, peer, self.region): peer for peer in peers}
        self.dead_letter_topic = dead_letter_topic(topic_prefix)
        self.group_id = group_id or f"{topic_prefix}federation.inbound"
        self.observer: InboundObserver = observer if observer is not None else InboundMonitor()
        self._keys = peer_keys
        self._bootstrap = bootstrap_servers
        self._ledger = ledger
        self._applier = applier
        self._audit = audit_refusal
        self._transient = tuple(transient)
        self._client_id = client_id
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._backlog_interval_s = backlog_interval_s
        self._publish_timeout_s = publish_timeout_s

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Create the inbound and dead-letter topics if missing, join the consumer group and serve
        until cancelled. `started` once subscribed (the group assigns partitions shortly after)."""
        for topic in (*self.topics, self.dead_letter_topic):
            await self._ensure_topic(topic)
        async with (
            open_event_publisher(self._bootstrap, {}, client_id=f"{self._client_id}-dead-letter",
                                 timeout_s=self._publish_timeout_s) as publisher,
            open_event_stream(self._bootstrap, list(self.topics), group_id=self.group_id,
                              client_id=self._client_id, decode=raw_record, settings=CONSUMER_SETTINGS,
                              buffer=_LANE_BUFFER) as stream,
        ):
            pipeline = _Pipeline(
                region=self.region, topics=self.topics, dead_letter_topic=self.dead_letter_topic,
                peer_keys=self._keys, ledger=self._ledger, applier=self._applier, publisher=publisher,
                audit_refusal=self._audit, observer=self.observer, transient=self._transient)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._report_backlog, stream)
                task_status.started()
                # One lane per partition: each keeps its records in order, partitions go on in parallel.
                await serve_in_lanes(stream, partial(self._handle, pipeline), buffer=_LANE_BUFFER)

    async def _ensure_topic(self, topic: str) -> None:
        while True:
            try:
                create = partial(ensure_topic, self._bootstrap, topic, partitions=EVENT_PARTITIONS)
                await trio.to_thread.run_sync(create, abandon_on_cancel=True)
                return
            except KafkaException as err:
                logger.warning("federation topic not created yet; retrying", extra={"topic": topic, "error": str(err)})
                await trio.sleep(_TOPIC_RETRY_S)

    async def _handle(self, pipeline: _Pipeline, record: RawRecord) -> None:
        """One record until it is handled: a transient failure is retried, never skipped."""
        delay = self._retry_initial_s
        while True:
            try:
                await pipeline.handle(record)
                return
            except self._transient as err:
                logger.warning("federation record not handled yet; retrying",
                               extra={"source": _source(record), "error": str(err), "retry_in_s": delay})
            except Exception:  # not even dead-lettered (a bug on that path): never skip, never lose
                logger.exception("federation record could not be dead-lettered; retrying",
                                 extra={"source": _source(record), "retry_in_s": delay})
            await trio.sleep(delay)
            delay = min(delay * 2, self._retry_max_s)

    async def _report_backlog(self, stream: EventStream[RawRecord]) -> None:
        while True:
            await trio.sleep(self._backlog_interval_s)
            with trio.move_on_after(max(self._backlog_interval_s * 5, 5.0)):
                try:
                    positions = await stream.backlog()
                except (KafkaException, trio.ClosedResourceError) as err:
                    logger.debug("federation backlog not measured", extra={"error": str(err)})
                    continue
                totals = dict.fromkeys(self.topics.values(), 0)
                for (topic, _partition), records in positions.items():
                    if topic in self.topics:
                        totals[self.topics[topic]] += records
                for origin, records in totals.items():
                    self.observer.backlog(origin, records)


class _Pipeline:
    """One record through decode, verify, ledger, applier and commit, or to the dead-letter topic."""

    def __init__(self, *, region: str, topics: dict[str, str], dead_letter_topic: str, peer_keys: PeerKeys,
                 ledger: InboundLedger, applier: Applier, publisher: KafkaEventPublisher,
                 audit_refusal: AuditRefusal, observer: InboundObserver,
                 transient: tuple[type[Exception], ...]) -> None:
        self._region = region
        self._topics = topics
        self._dead_letter_topic = dead_letter_topic
        self._keys = peer_keys
        self._ledger = ledger
        self._applier = applier
        self._publisher = publisher
        self._audit = audit_refusal
        self._observer = observer
        self._transient = transient

    async def handle(self, record: RawRecord) -> None:
        """Raises only a transient error (the caller retries the whole record), or Cancelled, or
        an error on the dead-letter path itself."""
        via = self._topics.get(record.topic)
        reports: list[Callable[[], None]] = []  # observer calls, made once the record's outcome is durable
        try:
            await self._process(record, via, reports)
        except self._transient:
            raise
        except Exception as err:  # a bug outside the applier, or a damaged ledger: never stop on one record
            logger.exception("the federation inbound pipeline failed on a record",
                             extra={"source": _source(record), "origin": via})
            reports = []
            await self._refuse(record, via, APPLY_FAILED, f"{type(err).__name__} in the inbound pipeline", reports)
        for report in reports:
            report()

    async def _process(self, record: RawRecord, via: str | None, reports: list[Callable[[], None]]) -> None:
        try:
            event = self._keys.verify(decode(record.value, local_region=self._region))
        except Refused as err:
            await self._refuse(record, via, _code_label(err.code), _reason(err), reports)
            return
        try:
            admission = await self._ledger.offer(event)
        except Refused as err:
            await self._refuse(record, event.origin, _code_label(err.code), _reason(err), reports, event=event)
            return
        for ready in admission.ready:
            # The first is this record's event; the rest were held and are released by it.
            released = ready if ready.id != event.id else None
            try:
                await self._applier.apply(ready)
            except self._transient:
                raise
            except Refused as err:
                await self._refuse(record, ready.origin, _code_label(err.code), _reason(err), reports,
                                   event=ready, released=released)
            except Exception as err:  # a bug in the applier: dead-lettered, and the stream goes on
                logger.exception("a federation applier failed", extra={
                    "source": _source(record), "origin": ready.origin, "event_id": ready.id, "kind": ready.kind})
                await self._refuse(record, ready.origin, APPLY_FAILED,
                                   f"{type(err).__name__} in the applier of {ready.kind}", reports,
                                   event=ready, released=released)
            else:
                reports.append(partial(self._observer.applied, ready, max(now_ms() - ready.envelope.created_at, 0)))
        await self._ledger.commit(admission)

    async def _refuse(self, record: RawRecord, origin: str | None, code: str, reason: str,
                      reports: list[Callable[[], None]], *, event: VerifiedEvent | None = None,
                      released: VerifiedEvent | None = None) -> None:
        """Dead-letter, audit and log one refusal; its count is reported with the record's outcome."""
        reason = _short(reason)
        source = _source(record)
        headers = [(H_CODE, code), (H_REASON, reason), (H_SOURCE_TOPIC, record.topic),
                   (H_SOURCE_PARTITION, str(record.partition)), (H_SOURCE_OFFSET, str(record.offset))]
        if record.topic in self._topics:
            headers.append((H_VIA, self._topics[record.topic]))
        if event is not None:
            headers += [(H_ORIGIN, event.origin), (H_EVENT_ID, event.id)]
        if released is not None:  # a held event released by this record: its own envelope, not this record
            key, value = released.stream.encode("ascii"), encode(released.envelope)
            source = f"{source} event {released.id}"
        else:
            key, value = record.key, record.value
        if len(value) > MAX_DEAD_LETTER_VALUE:
            headers.append((H_TRUNCATED, str(len(value))))
            value = value[:MAX_DEAD_LETTER_VALUE]
        await self._publisher.produce(self._dead_letter_topic, key=key, value=value,
                                      headers=[(name, text.encode("utf-8")) for name, text in headers],
                                      what=f"dead letter of {source}")
        await self._audit(origin, code, reason, source)
        logger.warning("federation record refused", extra={"code": code, "origin": origin, "source": source,
                                                           "reason": reason})
        reports.append(partial(self._observer.refused, origin, code, reason))


def _source(record: RawRecord) -> str:
    return f"{record.topic}/{record.partition}/{record.offset}"


def _reason(err: Refused) -> str:
    """What a refusal says, fit for the audit log and a header: never a value from the record (a
    malformed record's message quotes the bad value, which may be message content)."""
    return _QUOTED_VALUE.sub("", str(err)) if err.code == "malformed" else str(err)


_QUOTED_VALUE = re.compile(r", got .*$", re.DOTALL)


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _REASON_CHARS else text[:_REASON_CHARS - 3] + "..."

