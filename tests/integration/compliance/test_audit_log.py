"""AuditLog against the real FerretDB: one gapless chain whoever appends, checkpoints by count, by
time and on demand, and failing closed when the store is gone."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime

import pytest
import trio

from svyaz.compliance.audit.checker import verify_store
from svyaz.compliance.audit.checkpoint import CheckpointPolicy
from svyaz.compliance.audit.checkpointer import AuditTampered
from svyaz.compliance.audit.event import AuditUnavailable
from svyaz.compliance.audit.keys import PublicKeys
from svyaz.compliance.audit.log import open_audit_log
from svyaz.compliance.audit.store import MongoAuditStore
from tests.integration.compliance.conftest import audit_event, free_port

NO_TIMER = CheckpointPolicy(every_entries=None, every_seconds=None)


def stored(audit_db) -> list[dict]:
    return list(audit_db.entries.find({}, {"_id": False}).sort("seq", 1))


def verify_now(audit_db, keypair):
    store = MongoAuditStore.connect(audit_db.url, audit_db.prefix)
    try:
        return verify_store(store, PublicKeys(pems=[keypair.public_pem]))
    finally:
        store.close()


async def test_recorded_events_form_a_verifiable_chain(audit_db, keypair):
    with trio.fail_after(30):
        async with open_audit_log(audit_db.url, audit_db.prefix, signer=keypair, policy=NO_TIMER) as log:
            for n in range(1, 4):
                await log.record(audit_event(n, detail={"reason": "bad_totp", "агент": "curl/8"}))

    entries = stored(audit_db)
    assert [e["seq"] for e in entries] == [1, 2, 3]
    assert entries[0]["prev_hash"] == "0" * 64
    assert [e["prev_hash"] for e in entries[1:]] == [e["hash"] for e in entries[:-1]]
    assert entries[2]["detail"] == {"reason": "bad_totp", "агент": "curl/8"}
    assert verify_now(audit_db, keypair).summary() == "ok: 3 entries, no signed checkpoint yet"


async def test_concurrent_appends_from_several_logs_make_one_gapless_chain(audit_db, keypair):
    # Each AuditLog has its own client, lock and threads, as each process of a node would.
    logs, writers, per_writer = 4, 5, 6

    async def write(log, first: int) -> None:
        for n in range(first, first + per_writer):
            await log.record(audit_event(n))

    with trio.fail_after(120):
        async with open_audit_log(audit_db.url, audit_db.prefix, policy=NO_TIMER) as log_a, \
                open_audit_log(audit_db.url, audit_db.prefix, policy=NO_TIMER) as log_b, \
                open_audit_log(audit_db.url, audit_db.prefix, policy=NO_TIMER) as log_c, \
                open_audit_log(audit_db.url, audit_db.prefix, policy=NO_TIMER) as log_d:
            async with trio.open_nursery() as nursery:
                for index, log in enumerate([log_a, log_b, log_c, log_d]):
                    for writer in range(writers):
                        nursery.start_soon(write, log, 1000 * index + 100 * writer)

    total = logs * writers * per_writer
    entries = stored(audit_db)
    assert [e["seq"] for e in entries] == list(range(1, total + 1))
    assert len({e["request_id"] for e in entries}) == total  # every event exactly once
    assert verify_now(audit_db, keypair).ok


def test_appends_from_several_processes_make_one_gapless_chain(audit_db, keypair):
    script = textwrap.dedent(f"""
        import sys
        from svyaz.compliance.audit.event import AuditEvent
        from svyaz.compliance.audit.store import MongoAuditStore
        store = MongoAuditStore.connect({audit_db.url!r}, {audit_db.prefix!r}, timeout_s=5)
        first = int(sys.argv[1])
        for n in range(first, first + 15):
            store.append(AuditEvent("@user:ru", "user", "auth.login", "-", "ru", f"req-{{n}}", "success"))
        store.close()
    """)
    processes = [
        subprocess.Popen([sys.executable, "-c", script, str(1000 * p)]) for p in range(1, 4)
    ]
    assert [process.wait(timeout=120) for process in processes] == [0, 0, 0]

    entries = stored(audit_db)
    assert [e["seq"] for e in entries] == list(range(1, 46))
    assert len({e["request_id"] for e in entries}) == 45
    assert verify_now(audit_db, keypair).ok


async def test_checkpoints_every_n_entries_and_on_demand(audit_db, keypair):
    policy = CheckpointPolicy(every_entries=5, every_seconds=None)
    with trio.fail_after(60):
        async with open_audit_log(audit_db.url, audit_db.prefix, signer=keypair, policy=policy) as log:
            for n in range(1, 13):
                await log.record(audit_event(n))
            assert [c["seq"] for c in audit_db.checkpoints.find().sort("seq", 1)] == [5, 10]

            on_demand = await log.checkpoint()
            again = await log.checkpoint()

    assert (on_demand.seq, on_demand.key_id) == (12, keypair.key_id)
    assert on_demand.entry_hash == stored(audit_db)[-1]["hash"]
    assert again is None  # nothing new to sign
    assert verify_now(audit_db, keypair).summary() == "ok: 12 entries, last checkpoint at seq 12"


async def test_checkpoints_every_t_seconds_while_entries_come_in(audit_db, keypair):
    policy = CheckpointPolicy(every_entries=None, every_seconds=0.2)
    with trio.fail_after(30):
        async with open_audit_log(audit_db.url, audit_db.prefix, signer=keypair, policy=policy) as log:
            for n in range(1, 4):
                await log.record(audit_event(n))
            while audit_db.checkpoints.count_documents({"seq": 3}) == 0:
                await trio.sleep(0.1)

    assert verify_now(audit_db, keypair).last_checkpoint == 3


async def test_no_checkpoint_is_signed_over_a_tampered_chain(audit_db, keypair):
    with trio.fail_after(30):
        async with open_audit_log(audit_db.url, audit_db.prefix, signer=keypair, policy=NO_TIMER) as log:
            for n in range(1, 7):
                await log.record(audit_event(n))
            audit_db.entries.update_one({"seq": 2}, {"$set": {"outcome": "failure"}})

            with pytest.raises(AuditTampered, match="edited at seq 2"):
                await log.checkpoint()

    assert audit_db.checkpoints.count_documents({}) == 0


async def test_an_unreachable_store_makes_record_fail_closed(tmp_path):
    url = f"mongodb://127.0.0.1:{free_port()}/"
    with trio.fail_after(20):
        async with open_audit_log(url, "unreachable", policy=NO_TIMER, timeout_s=0.5) as log:
            with pytest.raises(AuditUnavailable, match="audit store unavailable") as error:
                await log.record(audit_event(1))

    assert "Connection refused" in str(error.value) or "refused" in str(error.value).lower()


async def test_an_event_that_cannot_be_hashed_is_refused_as_unavailable(audit_db):
    with trio.fail_after(20):
        async with open_audit_log(audit_db.url, audit_db.prefix, policy=NO_TIMER) as log:
            with pytest.raises(AuditUnavailable, match="detail"):
                await log.record(audit_event(1, detail={"attempts": 3}))

    assert stored(audit_db) == []


class AlwaysBehind(MongoAuditStore):
    """Sees the log as empty every time, as if other writers always took the next seq first."""

    def _head_entry(self):
        return None


def test_appends_give_up_after_bounded_retries_and_fail_closed(audit_db):
    store = AlwaysBehind.connect(audit_db.url, audit_db.prefix, timeout_s=5, max_attempts=3)
    try:
        store.append(audit_event(1))  # seq 1 is still free

        with pytest.raises(AuditUnavailable, match="took the next seq 3 times in a row"):
            store.append(audit_event(2))
    finally:
        store.close()

    assert [e["request_id"] for e in stored(audit_db)] == ["req-1"]


def test_an_insert_that_had_in_fact_succeeded_is_not_written_twice(audit_db):
    # Same head, same clock, same event: the retry builds the very entry already stored.
    moment = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    store = AlwaysBehind.connect(audit_db.url, audit_db.prefix, timeout_s=5, clock=lambda: moment)
    try:
        first = store.append(audit_event(1))
        again = store.append(audit_event(1))
    finally:
        store.close()

    assert again == first
    assert len(stored(audit_db)) == 1
