"""The inbound ledger: each verified event is applied once, and each (origin, stream) in order.

The rule, for an event from `origin` on `stream` with sequence number `seq` and id `id`, where
`last` is the highest seq applied on (origin, stream) (0 before the first):

- `id` already accepted with the same (origin, stream, seq) and content digest, and applied
  (`seq <= last`) or held: DUPLICATE, a redelivery (Kafka and MirrorMaker 2 are at least once).
  Ignored; the record is acknowledged.
- `id` already accepted for anything else, or `seq <= last` under an id never accepted, or a
  different event already held at `seq`: refused as `replayed` (an old record re-sent, or an origin
  that signed two events with one number). Dead-lettered and audited, never applied.
- `seq == last + 1`: APPLY this event, then every held event that now follows without a gap.
- `last + 1 < seq <= last + max_ahead`: HOLD it until the missing ones arrive (the same event
  held twice is a DUPLICATE).
- `seq > last + max_ahead`: refused as `gap` (GapTooLarge): this node will not hold that much for
  one stream. The record goes to the dead-letter topic and can be re-driven later.

`admit` is the pure state machine; `InboundLedger` runs it over a `LedgerStore` port. The caller
applies `Admission.ready` in order (each effect idempotent by event id), THEN calls
`InboundLedger.commit`, THEN acknowledges the Kafka offset: a crash anywhere in between
re-delivers, and the rule above makes the re-delivery harmless. One (origin, stream) must be
handled by one task at a time; the outbox is keyed by stream, so one partition's consumer owns it.

May import only the standard library and `svyaz.federation`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import Protocol

from svyaz.federation.errors import GapTooLarge, Replayed
from svyaz.federation.trust import VerifiedEvent

MAX_AHEAD = 1000


class Outcome(enum.Enum):
    APPLY = "apply"
    HOLD = "hold"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Accepted:
    """What the ledger remembers of an event it accepted (applied or held), by event id."""

    id: str
    origin: str
    stream: str
    seq: int
    digest: bytes

    @classmethod
    def of(cls, event: VerifiedEvent) -> Accepted:
        return cls(event.id, event.origin, event.stream, event.seq, event.digest)


@dataclass(frozen=True)
class StreamState:
    """One (origin, stream) on the receiving node: the last seq applied, and events held back
    (sorted by seq, every one above last + 1)."""

    origin: str
    stream: str
    last_seq: int = 0
    held: tuple[VerifiedEvent, ...] = ()

    @property
    def missing(self) -> range:
        """The seqs waiting to arrive before the first held event can be applied."""
        return range(self.last_seq + 1, self.held[0].seq) if self.held else range(0)


@dataclass(frozen=True)
class Admission:
    outcome: Outcome
    ready: tuple[VerifiedEvent, ...]  # APPLY: to apply, in this order; else empty
    state: StreamState                # to commit once `ready` is applied
    accepted: tuple[VerifiedEvent, ...] = ()  # newly accepted (applied or held): their ids to remember


def admit(state: StreamState, event: VerifiedEvent, *, seen: Accepted | None,
          max_ahead: int = MAX_AHEAD) -> Admission:
    """Decide what to do with `event` given its stream's `state` and what the ledger already
    recorded under its id (`seen`). Pure: raises Replayed or GapTooLarge, or returns the decision."""
    if (event.origin, event.stream) != (state.origin, state.stream):
        raise ValueError(f"the state of {state.origin}/{state.stream} was given for {event.origin}/{event.stream}")
    where = f"{event.origin} stream {event.stream[:80]!r}"
    if seen is not None and seen != Accepted.of(event):
        raise Replayed(f"event id {event.id} from {event.origin} was already used for another event "
                       f"(stream {seen.stream[:80]!r} seq {seen.seq})")
    if event.seq <= state.last_seq:
        if seen is not None:
            return Admission(Outcome.DUPLICATE, (), state)
        raise Replayed(f"{where}: seq {event.seq} is already applied (last {state.last_seq}) "
                       f"and event {event.id} is not the one applied there")
    for held in state.held:
        if held.seq == event.seq:
            if held.id == event.id and held.digest == event.digest:
                return Admission(Outcome.DUPLICATE, (), state)
            raise Replayed(f"{where}: seq {event.seq} is already held for event {held.id}, not {event.id}")
    # Here `seen` may still equal this event: its id was saved but its state was not (a crash
    # between the two writes). The state is what counts, so it is admitted again.
    if event.seq == state.last_seq + 1:
        ready = [event]
        remaining = list(state.held)
        while remaining and remaining[0].seq == ready[-1].seq + 1:
            ready.append(remaining.pop(0))
        return Admission(Outcome.APPLY, tuple(ready),
                         replace(state, last_seq=ready[-1].seq, held=tuple(remaining)), accepted=(event,))
    if event.seq > state.last_seq + max_ahead:
        raise GapTooLarge(f"{where}: seq {event.seq} is more than {max_ahead} ahead of the last applied "
                          f"({state.last_seq}); seqs {state.last_seq + 1}.. are missing")
    held = tuple(sorted((*state.held, event), key=lambda e: e.seq))
    return Admission(Outcome.HOLD, (), replace(state, held=held), accepted=(event,))


class LedgerStore(Protocol):
    """The ledger's persistence (the node's federation database; an adapter comes with the
    consumer). `save` writes the accepted ids first, then the state (no multi-document
    transactions on FerretDB). `admit` trusts the state over the ids: an id saved without its state
    (a crash between the writes) is admitted again on re-delivery, its effect being idempotent.
    Held events are stored whole (`envelope.encode` re-creates the record). Accepted ids must be
    kept at least as long as an outbox record can still be re-delivered (the outbox topic's
    retention plus the longest outage), or an old re-delivery is refused as `replayed` instead of
    ignored as a duplicate: harmless, but noisy."""

    async def load(self, origin: str, stream: str) -> StreamState: ...

    async def lookup(self, event_id: str) -> Accepted | None: ...

    async def save(self, state: StreamState, accepted: tuple[Accepted, ...]) -> None: ...


class InboundLedger:
    """`admit` over a LedgerStore: `offer` decides, the caller applies, `commit` records."""

    def __init__(self, store: LedgerStore, *, max_ahead: int = MAX_AHEAD) -> None:
        if max_ahead < 1:
            raise ValueError("max_ahead must be at least 1")
        self.store = store
        self.max_ahead = max_ahead

    async def offer(self, event: VerifiedEvent) -> Admission:
        state = await self.store.load(event.origin, event.stream)
        seen = await self.store.lookup(event.id)
        return admit(state, event, seen=seen, max_ahead=self.max_ahead)

    async def commit(self, admission: Admission) -> None:
        if admission.outcome is Outcome.DUPLICATE:
            return
        await self.store.save(admission.state, tuple(Accepted.of(event) for event in admission.accepted))


class MemoryLedgerStore:
    """A LedgerStore in memory: for tests and for tools that replay a dead-letter file."""

    def __init__(self) -> None:
        self.streams: dict[tuple[str, str], StreamState] = {}
        self.ids: dict[str, Accepted] = {}

    async def load(self, origin: str, stream: str) -> StreamState:
        return self.streams.get((origin, stream)) or StreamState(origin, stream)

    async def lookup(self, event_id: str) -> Accepted | None:
        return self.ids.get(event_id)

    async def save(self, state: StreamState, accepted: tuple[Accepted, ...]) -> None:
        self.ids.update({record.id: record for record in accepted})
        self.streams[(state.origin, state.stream)] = state
