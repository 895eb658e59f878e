"""The inbound ledger: each event once, each (origin, stream) in order, gaps held within a bound."""

from __future__ import annotations

import dataclasses
import random

import pytest

from svyaz.federation.envelope import decode, encode
from svyaz.federation.errors import GapTooLarge, Replayed
from svyaz.federation.ledger import Accepted, InboundLedger, MemoryLedgerStore, Outcome, StreamState, admit

from tests.unit.federation.conftest import NOW

STREAM = "g/ru/0123456789abcdef"


@pytest.fixture(scope="module")
def events(ru, kz_trust):
    """Verified events ru -> kz on one stream, seq 1..8 (index i holds seq i+1)."""
    def make(seq):
        raw = encode(ru.seal(destination="kz", stream=STREAM, seq=seq, kind="message.created",
                             payload={"n": seq}, created_at=NOW))
        return kz_trust.verify(decode(raw, local_region="kz", now=NOW))
    return [make(seq) for seq in range(1, 9)]


def _deliver(ledger_store, sequence, *, max_ahead=1000):
    """Feed events through admit as the consumer will; return the applied seqs and the outcomes."""
    applied, outcomes = [], []
    for event in sequence:
        state = ledger_store.streams.get((event.origin, event.stream)) or StreamState(event.origin, event.stream)
        admission = admit(state, event, seen=ledger_store.ids.get(event.id), max_ahead=max_ahead)
        outcomes.append(admission.outcome)
        applied += [e.seq for e in admission.ready]
        if admission.outcome is not Outcome.DUPLICATE:
            ledger_store.ids.update({e.id: Accepted.of(e) for e in admission.accepted})
            ledger_store.streams[(state.origin, state.stream)] = admission.state
    return applied, outcomes


def test_in_order_events_apply_one_by_one(events):
    applied, outcomes = _deliver(MemoryLedgerStore(), events[:3])
    assert applied == [1, 2, 3]
    assert outcomes == [Outcome.APPLY] * 3


def test_a_gap_is_held_until_the_missing_event_arrives_then_released_in_order(events):
    store = MemoryLedgerStore()
    applied, outcomes = _deliver(store, [events[0], events[3], events[2], events[1], events[4]])

    assert outcomes == [Outcome.APPLY, Outcome.HOLD, Outcome.HOLD, Outcome.APPLY, Outcome.APPLY]
    assert applied == [1, 2, 3, 4, 5]
    state = store.streams[("ru", STREAM)]
    assert (state.last_seq, state.held) == (5, ())


def test_the_state_says_what_is_missing(events):
    store = MemoryLedgerStore()
    _deliver(store, [events[0], events[4], events[6]])
    state = store.streams[("ru", STREAM)]
    assert list(state.missing) == [2, 3, 4]
    assert [e.seq for e in state.held] == [5, 7]


def test_duplicate_delivery_is_ignored_idempotently(events):
    store = MemoryLedgerStore()
    applied, outcomes = _deliver(store, [events[0], events[0], events[2], events[2], events[1], events[1], events[2]])

    assert applied == [1, 2, 3]
    assert outcomes == [Outcome.APPLY, Outcome.DUPLICATE, Outcome.HOLD, Outcome.DUPLICATE, Outcome.APPLY,
                        Outcome.DUPLICATE, Outcome.DUPLICATE]


def test_any_delivery_order_with_redeliveries_applies_each_event_once_in_order(events):
    rng = random.Random(5)
    for _ in range(50):
        sequence = events + rng.sample(events, 4)
        rng.shuffle(sequence)
        applied, _ = _deliver(MemoryLedgerStore(), sequence)
        assert applied == list(range(1, 9))


def test_a_replayed_event_id_under_another_seq_is_refused(events):
    store = MemoryLedgerStore()
    _deliver(store, events[:2])
    # The same id (signed by ru, so not a forgery) arriving as another event: ru reused an id.
    reused = dataclasses.replace(events[2], envelope=dataclasses.replace(events[2].envelope, id=events[0].id))

    with pytest.raises(Replayed) as refused:
        _deliver(store, [reused])
    assert refused.value.code == "replayed"


def test_an_old_seq_under_a_new_id_is_refused_as_replayed(events):
    store = MemoryLedgerStore()
    _deliver(store, events[:3])
    stale = dataclasses.replace(events[1], envelope=dataclasses.replace(events[1].envelope, id="e" * 32))

    with pytest.raises(Replayed, match="seq 2 is already applied"):
        _deliver(store, [stale])


def test_a_different_event_at_a_held_seq_is_refused(events):
    store = MemoryLedgerStore()
    _deliver(store, [events[0], events[3]])
    other = dataclasses.replace(events[3], envelope=dataclasses.replace(events[3].envelope, id="d" * 32),
                                digest=b"\x00" * 32)

    with pytest.raises(Replayed, match="already held"):
        _deliver(store, [other])


def test_an_event_too_far_ahead_is_refused_and_changes_nothing(events):
    store = MemoryLedgerStore()
    _deliver(store, [events[0]], max_ahead=3)

    with pytest.raises(GapTooLarge) as refused:
        _deliver(store, [events[4]], max_ahead=3)  # seq 5 > last 1 + 3
    assert refused.value.code == "gap"
    assert store.streams[("ru", STREAM)] == StreamState("ru", STREAM, last_seq=1)
    applied, _ = _deliver(store, [events[3], events[1], events[2]], max_ahead=3)  # seq 4 is within the bound
    assert applied == [2, 3, 4]


def test_an_id_saved_without_its_state_is_admitted_again(events):
    # A crash between the two writes of `save`: the id is there, the stream did not move.
    store = MemoryLedgerStore()
    store.ids[events[0].id] = Accepted.of(events[0])

    applied, outcomes = _deliver(store, [events[0], events[1]])

    assert (applied, outcomes) == ([1, 2], [Outcome.APPLY, Outcome.APPLY])


def test_streams_and_origins_are_ordered_independently(events, by, kz_trust):
    raw = encode(by.seal(destination="kz", stream=STREAM, seq=1, kind="message.created", payload={}, created_at=NOW))
    from_by = kz_trust.verify(decode(raw, local_region="kz", now=NOW))
    store = MemoryLedgerStore()

    applied, outcomes = _deliver(store, [events[0], from_by])

    assert outcomes == [Outcome.APPLY, Outcome.APPLY]
    assert set(store.streams) == {("ru", STREAM), ("by", STREAM)}


def test_admit_refuses_a_state_of_another_stream(events):
    with pytest.raises(ValueError):
        admit(StreamState("by", STREAM), events[0], seen=None)


async def test_the_ledger_runs_over_its_store_port(events):
    store = MemoryLedgerStore()
    ledger = InboundLedger(store, max_ahead=10)
    applied = []
    for event in (events[1], events[0], events[0], events[2]):
        admission = await ledger.offer(event)
        applied += [e.seq for e in admission.ready]
        await ledger.commit(admission)

    assert applied == [1, 2, 3]
    assert (await store.load("ru", STREAM)).last_seq == 3
    assert await store.lookup(events[1].id) == Accepted.of(events[1])
    assert await store.lookup("0" * 32) is None
