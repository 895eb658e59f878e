"""`MongoLedgerStore` against the real ru FerretDB: what the ledger saves comes back whole, two
writers cannot overwrite each other, and damage or an outage is reported, never applied."""

from __future__ import annotations

import socket

import pytest
import trio
from pymongo import MongoClient

from svyaz.federation.envelope import Signer, decode, encode
from svyaz.federation.ledger import Accepted, InboundLedger, Outcome, StreamState
from svyaz.federation.trust import PeerKeys, PinnedKey
from svyaz.gost.keys import Curve, PrivateKey
from svyaz.node.federation.ledger_store import (
    HELD,
    LedgerConflict,
    LedgerCorrupt,
    LedgerUnavailable,
    MongoLedgerStore,
    federation_database,
)

STREAM = "g/kz/0123456789abcdef|with#odd:chars"


@pytest.fixture(scope="module")
def events():
    """Verified events kz -> ru on one stream: index i holds seq i + 1."""
    key = PrivateKey.generate(Curve.TC26_256_A)
    kz, trust = Signer("kz", key), PeerKeys("ru", [PinnedKey("kz", key.public_key())])
    return [trust.verify(decode(encode(kz.seal(destination="ru", stream=STREAM, seq=seq, kind="message.created",
                                               payload={"text": f"привет {seq}", "n": [seq, None, 1.5]})),
                                local_region="ru"))
            for seq in range(1, 7)]


@pytest.fixture
def database(stack, test_id):
    client = MongoClient(stack.mongo("ru"), serverSelectionTimeoutMS=3000)
    yield client[federation_database(test_id)]
    client.close()


def store(database) -> MongoLedgerStore:
    return MongoLedgerStore(database, trio.CapacityLimiter(2))


async def test_held_events_and_accepted_ids_come_back_whole_in_another_process(database, events):
    ledger = InboundLedger(store(database))
    for event in (events[0], events[4], events[2]):  # 1 applies; 5 and 3 are held
        await ledger.commit(await ledger.offer(event))

    reader = store(database)  # a restarted node: nothing in memory
    state = await reader.load("kz", STREAM)
    assert (state.last_seq, [event.seq for event in state.held]) == (1, [3, 5])
    assert state.held == (events[2], events[4])  # envelope (payload included) and digest
    assert await reader.lookup(events[4].id) == Accepted.of(events[4])
    assert await reader.lookup(events[1].id) is None


async def test_released_held_events_are_deleted_once_the_state_moves_past_them(database, events):
    ledger = InboundLedger(store(database))
    for event in (events[2], events[1]):
        await ledger.commit(await ledger.offer(event))
    assert database[HELD].count_documents({}) == 2

    admission = await ledger.offer(events[0])
    assert admission.outcome is Outcome.APPLY and [event.seq for event in admission.ready] == [1, 2, 3]
    await ledger.commit(admission)

    assert database[HELD].count_documents({}) == 0
    assert (await store(database).load("kz", STREAM)) == StreamState("kz", STREAM, last_seq=3)


@pytest.mark.parametrize("existing", [False, True], ids=["new stream", "existing stream"])
async def test_a_writer_that_loaded_an_older_state_cannot_overwrite_a_newer_one(database, events, existing):
    if existing:
        await InboundLedger(store(database)).commit(await InboundLedger(store(database)).offer(events[0]))
    first, second = InboundLedger(store(database)), InboundLedger(store(database))
    late = await second.offer(events[2])
    await first.commit(await first.offer(events[1] if existing else events[0]))

    with pytest.raises(LedgerConflict):
        await second.commit(late)
    retried = await second.offer(events[2])  # the consumer's retry reloads, and decides again
    await second.commit(retried)
    state = await store(database).load("kz", STREAM)
    assert state.last_seq == (3 if existing else 1)


async def test_a_damaged_held_event_is_reported_not_applied(database, events):
    ledger = InboundLedger(store(database))
    await ledger.commit(await ledger.offer(events[1]))
    doc = database[HELD].find_one({})
    database[HELD].update_one({"_id": doc["_id"]},
                                {"$set": {"record": doc["record"].replace("привет".encode(), "пока".encode())}})

    with pytest.raises(LedgerCorrupt, match="does not match its digest|cannot be read back"):
        await store(database).load("kz", STREAM)


async def test_an_unreachable_database_is_a_transient_ledger_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = MongoClient(f"mongodb://127.0.0.1:{port}/", serverSelectionTimeoutMS=200)
    try:
        with trio.fail_after(5), pytest.raises(LedgerUnavailable, match="did not answer"):
            await store(client[federation_database("t_unreachable")]).lookup("0" * 32)
    finally:
        client.close()
