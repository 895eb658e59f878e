"""How MongoAuditStore finds the head it appends to, against the real FerretDB: by `_id` from the
entry it remembers, so an append costs point reads whatever the log's length; other stores' entries
are read forward and linked to; logs written before entries had such ids keep working; and what
someone changes in the database while a store runs still shows in `verify`."""

from __future__ import annotations

import threading

import pytest
from bson import ObjectId
from pymongo import MongoClient, monitoring

from svyaz.compliance.audit import store as store_module
from svyaz.compliance.audit.chain import next_entry, parse_entry
from svyaz.compliance.audit.checker import verify_store
from svyaz.compliance.audit.checkpointer import Checkpointer
from svyaz.compliance.audit.event import AuditUnavailable
from svyaz.compliance.audit.keys import PublicKeys
from svyaz.compliance.audit.store import MongoAuditStore, entry_id
from tests.integration.compliance.conftest import audit_event


def stored(audit_db) -> list[dict]:
    return list(audit_db.entries.find({}).sort("seq", 1))


def connect(audit_db, **options) -> MongoAuditStore:
    return MongoAuditStore.connect(audit_db.url, audit_db.prefix, timeout_s=5, **options)


def verify_now(audit_db, keypair):
    store = connect(audit_db)
    try:
        return verify_store(store, PublicKeys(pems=[keypair.public_pem]))
    finally:
        store.close()


def write_old_format(audit_db, count: int, *, after: dict | None = None) -> list[dict]:
    """Entries as a store from before entry ids wrote them: the driver's ObjectId as `_id`."""
    head = parse_entry(after) if after is not None else None
    documents = []
    for n in range(count):
        head = next_entry(head, audit_event(500 + n), f"2026-11-28T09:00:00.{n:06d}Z")
        documents.append({"_id": ObjectId(), **head.to_document()})
    audit_db.entries.insert_many(documents)
    return documents


def assert_one_chain(entries: list[dict], count: int) -> None:
    assert [e["seq"] for e in entries] == list(range(1, count + 1))
    assert entries[0]["prev_hash"] == "0" * 64
    assert [e["prev_hash"] for e in entries[1:]] == [e["hash"] for e in entries[:-1]]


class CommandLog(monitoring.CommandListener):
    """The find and insert commands a client sends."""

    def __init__(self) -> None:
        self.commands: list[dict] = []

    def started(self, event):
        if event.command_name in ("find", "insert", "aggregate", "count"):
            self.commands.append(dict(event.command))

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


def test_entries_are_stored_under_ids_derived_from_their_seq(audit_db, keypair):
    store = connect(audit_db)
    try:
        appended = [store.append(audit_event(n)) for n in range(1, 4)]
    finally:
        store.close()

    entries = stored(audit_db)
    assert [e["_id"] for e in entries] == ["seq:000000000001", "seq:000000000002", "seq:000000000003"]
    assert [parse_entry(e) for e in entries] == appended
    assert verify_now(audit_db, keypair).summary() == "ok: 3 entries, no signed checkpoint yet"


def test_an_append_reads_only_by_id_once_the_store_knows_its_head(audit_db):
    commands = CommandLog()
    client = MongoClient(audit_db.url, serverSelectionTimeoutMS=5000, event_listeners=[commands])
    store = MongoAuditStore(client, audit_db.prefix)
    try:
        store.append(audit_event(1))  # the first append looks for the head with the sorted query
        commands.commands.clear()
        for n in range(2, 6):
            store.append(audit_event(n))
    finally:
        store.close()

    reads = [c for c in commands.commands if "find" in c]
    inserts = [c for c in commands.commands if "insert" in c]
    assert len(inserts) == 4
    # One missing `_id` per append: the seq it then takes. No sort, no other filter.
    assert [c["filter"] for c in reads] == [{"_id": entry_id(seq)} for seq in range(2, 6)]
    assert not [c for c in commands.commands if "aggregate" in c or "count" in c]


def test_a_store_whose_head_is_stale_links_to_what_others_appended(audit_db, keypair):
    first, second = connect(audit_db), connect(audit_db)
    try:
        first.append(audit_event(1))
        first.append(audit_event(2))
        for n in range(3, 6):
            second.append(audit_event(n))
        behind = first.append(audit_event(6))  # remembers seq 2; 3..5 came from `second`
        second.append(audit_event(7))  # remembers seq 5; 6 came from `first`
    finally:
        first.close()
        second.close()

    entries = stored(audit_db)
    assert_one_chain(entries, 7)
    assert behind.seq == 6 and behind.prev_hash == entries[4]["hash"]
    assert [e["request_id"] for e in entries] == [f"req-{n}" for n in range(1, 8)]
    assert verify_now(audit_db, keypair).ok


def test_concurrent_stores_in_threads_make_one_gapless_chain(audit_db, keypair):
    # Separate stores (own client, own remembered head), as separate processes would have.
    stores, per_store = 4, 15
    errors: list[BaseException] = []

    def write(index: int) -> None:
        store = connect(audit_db)
        try:
            for n in range(per_store):
                store.append(audit_event(1000 * index + n))
        except BaseException as err:  # surfaced by the assertion below
            errors.append(err)
        finally:
            store.close()

    threads = [threading.Thread(target=write, args=(index,)) for index in range(1, stores + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    entries = stored(audit_db)
    assert_one_chain(entries, stores * per_store)
    assert len({e["request_id"] for e in entries}) == stores * per_store  # every event exactly once
    assert [e["_id"] for e in entries] == [entry_id(e["seq"]) for e in entries]
    assert verify_now(audit_db, keypair).ok


def test_a_store_far_behind_finds_the_head_with_the_sorted_query(audit_db, keypair, monkeypatch):
    monkeypatch.setattr(store_module, "MAX_PROBES", 2)
    first, second = connect(audit_db), connect(audit_db)
    try:
        first.append(audit_event(1))
        for n in range(2, 8):
            second.append(audit_event(n))
        entry = first.append(audit_event(8))
    finally:
        first.close()
        second.close()

    assert entry.seq == 8
    assert_one_chain(stored(audit_db), 8)
    assert verify_now(audit_db, keypair).ok


# Logs written before entries had ids derived from their seq


def test_a_log_of_old_entries_is_continued_and_verifies(audit_db, keypair):
    old = write_old_format(audit_db, 5)
    first, second = connect(audit_db), connect(audit_db)
    try:
        first.append(audit_event(6))
        second.append(audit_event(7))
        first.append(audit_event(8))
    finally:
        first.close()
        second.close()

    entries = stored(audit_db)
    assert_one_chain(entries, 8)
    assert entries[5]["prev_hash"] == old[-1]["hash"]
    assert all(isinstance(e["_id"], ObjectId) for e in entries[:5])
    assert [e["_id"] for e in entries[5:]] == [entry_id(seq) for seq in (6, 7, 8)]
    assert verify_now(audit_db, keypair).summary() == "ok: 8 entries, no signed checkpoint yet"


def test_an_entry_appended_by_an_older_process_is_linked_to(audit_db, keypair):
    # During an upgrade, a process that stores entries under ObjectIds appends between two appends
    # of this store, which cannot see that entry by `_id`: the unique seq index refuses the
    # colliding insert, and the store looks the head up with the sorted query.
    store = connect(audit_db)
    try:
        store.append(audit_event(1))
        write_old_format(audit_db, 2, after=audit_db.entries.find_one({"seq": 1}))
        entry = store.append(audit_event(4))
        store.append(audit_event(5))
    finally:
        store.close()

    entries = stored(audit_db)
    assert entry.seq == 4
    assert_one_chain(entries, 5)
    assert verify_now(audit_db, keypair).ok


def test_checkpoints_and_tamper_detection_on_a_mixed_log(audit_db, keypair):
    write_old_format(audit_db, 4)
    store = connect(audit_db)
    try:
        checkpointer = Checkpointer(store, keypair)
        for n in range(5, 9):
            store.append(audit_event(n))
        assert checkpointer.checkpoint_now().seq == 8
    finally:
        store.close()
    assert verify_now(audit_db, keypair).summary() == "ok: 8 entries, last checkpoint at seq 8"

    audit_db.entries.update_one({"seq": 3}, {"$set": {"outcome": "failure"}})  # an old entry
    audit_db.entries.delete_one({"seq": 6})  # a new one

    assert verify_now(audit_db, keypair).summary() == (
        "tampered: edited at seq 3: entry 3's fields do not hash to its stored hash"
    )
    audit_db.entries.update_one({"seq": 3}, {"$set": {"outcome": "success"}})
    assert verify_now(audit_db, keypair).summary() == (
        "tampered: deleted at seq 6: entry 6 is missing: after seq 5 comes seq 7"
    )
    audit_db.entries.delete_many({"seq": {"$gte": 6}})
    report = verify_now(audit_db, keypair)
    assert (report.finding.kind, report.finding.position) == ("truncated", 6)


# Changes made in the database while a store runs


def test_entries_deleted_while_a_store_runs_stay_a_gap_that_verify_reports(audit_db, keypair):
    store = connect(audit_db)
    try:
        appended = [store.append(audit_event(n)) for n in range(1, 7)]
        audit_db.entries.delete_many({"seq": {"$gte": 5}})  # the newest entries, which it remembers
        after = store.append(audit_event(7))
    finally:
        store.close()

    # Seqs 5 and 6 are not taken again by entries linked over the deletion.
    assert (after.seq, after.prev_hash) == (7, appended[-1].hash)
    assert [e["seq"] for e in stored(audit_db)] == [1, 2, 3, 4, 7]
    assert verify_now(audit_db, keypair).summary() == (
        "tampered: deleted at seq 5: entries 5..6 are missing: after seq 4 comes seq 7"
    )


def test_a_head_edited_while_a_store_runs_is_not_linked_over(audit_db, keypair):
    store = connect(audit_db)
    try:
        for n in range(1, 4):
            store.append(audit_event(n))
        audit_db.entries.update_one({"seq": 3}, {"$set": {"outcome": "failure"}})
        store.append(audit_event(4))
    finally:
        store.close()

    assert verify_now(audit_db, keypair).summary() == (
        "tampered: edited at seq 3: entry 3's fields do not hash to its stored hash"
    )


@pytest.mark.parametrize(
    "forged, message",
    [
        ({"_id": entry_id(3), "seq": 3, "actor": "@mallory:ru"}, "seq 3.*is malformed: field 'action' is missing"),
        ({"_id": entry_id(3), "seq": 30}, r"stored as 'seq:000000000003' has seq 30, not 3"),
    ],
    ids=["malformed", "moved"],
)
def test_a_damaged_next_entry_makes_appends_fail_closed(audit_db, forged, message):
    store = connect(audit_db)
    try:
        store.append(audit_event(1))
        store.append(audit_event(2))
        if forged["seq"] != 3:  # a well-formed entry, filed under another seq's id
            entry_2 = parse_entry(audit_db.entries.find_one({"seq": 2}))
            moved = next_entry(entry_2, audit_event(99), entry_2.time).to_document()
            forged = {**moved, **forged}
        audit_db.entries.insert_one(forged)

        with pytest.raises(AuditUnavailable, match=message) as error:
            store.append(audit_event(4))
    finally:
        store.close()

    assert "svyaz audit verify" in error.value.hint
    assert audit_db.entries.count_documents({}) == 3


# A new store's first append: the head hint


def hint(audit_db):
    return audit_db.db["audit_head"].find_one({"_id": "head"})


def test_a_new_store_starts_from_the_head_hint_and_reads_only_by_id(audit_db, keypair):
    writer = connect(audit_db)
    try:
        for n in range(1, 41):
            writer.append(audit_event(n))
    finally:
        writer.close()
    assert hint(audit_db)["seq"] == 32  # written every 32 entries

    commands = CommandLog()
    client = MongoClient(audit_db.url, serverSelectionTimeoutMS=5000, event_listeners=[commands])
    newcomer = MongoAuditStore(client, audit_db.prefix)
    try:
        entry = newcomer.append(audit_event(41))
    finally:
        newcomer.close()

    assert entry.seq == 41
    reads = [c for c in commands.commands if "find" in c]
    assert [c["find"] for c in reads] == ["audit_head"] + ["audit"] * 10
    assert [c["filter"] for c in reads[1:]] == [{"_id": entry_id(seq)} for seq in range(32, 42)]
    assert not [c for c in reads if c.get("sort")]
    assert_one_chain(stored(audit_db), 41)
    assert verify_now(audit_db, keypair).ok


def test_the_sorted_query_leaves_a_hint_for_the_next_new_store(audit_db):
    first = connect(audit_db)
    try:
        for n in range(1, 6):
            first.append(audit_event(n))
    finally:
        first.close()
    assert hint(audit_db) is None  # no multiple of 32 yet

    second = connect(audit_db)
    try:
        second.append(audit_event(6))  # no hint: the sorted query finds seq 5
    finally:
        second.close()

    assert hint(audit_db)["seq"] == 5


@pytest.mark.parametrize(
    "bad_hint",
    [{"seq": 3}, {"seq": 1000}, {"seq": "5"}, {"seq": True}, {"seq": -1}, {}],
    ids=["too-low", "beyond-the-head", "string", "bool", "negative", "no-seq"],
)
def test_a_wrong_head_hint_costs_reads_never_a_wrong_link(audit_db, keypair, bad_hint):
    writer = connect(audit_db)
    try:
        for n in range(1, 9):
            writer.append(audit_event(n))
    finally:
        writer.close()
    audit_db.db["audit_head"].replace_one({"_id": "head"}, bad_hint, upsert=True)

    newcomer = connect(audit_db)
    try:
        entry = newcomer.append(audit_event(9))
    finally:
        newcomer.close()

    assert entry.seq == 9
    assert_one_chain(stored(audit_db), 9)
    assert verify_now(audit_db, keypair).ok


def test_a_hint_naming_a_deleted_entry_is_not_followed(audit_db, keypair):
    writer = connect(audit_db)
    try:
        for n in range(1, 35):
            writer.append(audit_event(n))
    finally:
        writer.close()
    audit_db.entries.delete_one({"seq": 32})  # the entry the hint names

    newcomer = connect(audit_db)
    try:
        entry = newcomer.append(audit_event(35))  # the sorted query finds seq 34
    finally:
        newcomer.close()

    assert entry.seq == 35
    assert verify_now(audit_db, keypair).summary() == (
        "tampered: deleted at seq 32: entry 32 is missing: after seq 31 comes seq 33"
    )
