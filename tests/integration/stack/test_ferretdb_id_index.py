"""Our FerretDB build looks documents up by `_id` through the unique `_id` index (docs/adr/0003).

Each test runs against a private FerretDB started from the stack's binary, on free ports and a
data directory of its own, so the shared stack is never touched. Results are checked directly and
the index use through FerretDB's `explain`, which returns SQLite's `EXPLAIN QUERY PLAN` rows.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from bson import ObjectId
from pymongo import MongoClient
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from svyaz.stack import toolchain
from svyaz.stack.manager import Stack
from svyaz.stack.services import FerretDB, Runtime

OBJECT_IDS = [ObjectId() for _ in range(20)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def ferretdb_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = toolchain.ferretdb_binary(progress=lambda line: print(f"[ferretdb] {line}", flush=True))
    runtime = Runtime(java="java", kafka_lib=Path(), log4j_config=Path(), ferretdb=binary)
    state_dir = tmp_path_factory.mktemp("private-ferretdb")
    server = FerretDB("ru", state_dir, runtime, port=free_port(), debug_port=free_port())
    stack = Stack(state_dir, progress=lambda _: None)
    try:
        stack.start_services([server])
        yield server.url
    finally:
        stack.down()


@pytest.fixture
def messages(ferretdb_url: str, test_id: str) -> Iterator[Collection]:
    """50 messages with string `_id`s and 20 with ObjectIds, in a database of this test's own."""
    client: MongoClient = MongoClient(ferretdb_url, serverSelectionTimeoutMS=5000)
    collection = client[f"{test_id}_store"]["messages"]
    collection.insert_many([{"_id": f"m-{n}", "chat": f"c{n % 5}", "seq": n} for n in range(50)])
    collection.insert_many([{"_id": oid, "chat": "oid", "seq": n} for n, oid in enumerate(OBJECT_IDS)])
    yield collection
    client.drop_database(f"{test_id}_store")
    client.close()


def plan(collection: Collection, filter: dict) -> dict:
    return collection.database.command("explain", {"find": collection.name, "filter": filter})


def plan_detail(explained: dict) -> str:
    return " | ".join(row.split("detail=", 1)[-1] for row in explained["queryPlanner"]["Plan"])


def test_find_one_by_string_or_object_id_returns_that_document(messages):
    assert messages.find_one({"_id": "m-17"}) == {"_id": "m-17", "chat": "c2", "seq": 17}
    assert messages.find_one({"_id": OBJECT_IDS[7]}) == {"_id": OBJECT_IDS[7], "chat": "oid", "seq": 7}
    assert messages.find_one({"_id": "m-999"}) is None
    assert messages.find_one({"_id": ObjectId()}) is None
    # An ObjectId and its hex string are different `_id`s.
    assert messages.find_one({"_id": str(OBJECT_IDS[7])}) is None


def test_find_by_id_is_an_index_search_not_a_scan(messages):
    for value in ("m-17", OBJECT_IDS[3], "no such id"):
        explained = plan(messages, {"_id": value})

        detail = plan_detail(explained)
        assert explained["filterPushdown"] is True
        assert "SEARCH" in detail and "USING INDEX" in detail and "__id_" in detail, detail
        assert "SCAN" not in detail, detail


def test_update_one_by_id_changes_exactly_that_document(messages):
    result = messages.update_one({"_id": "m-17"}, {"$set": {"text": "edited"}})
    by_oid = messages.update_one({"_id": OBJECT_IDS[2]}, {"$inc": {"seq": 100}})
    missing = messages.update_one({"_id": "m-999"}, {"$set": {"text": "nobody"}})

    assert (result.matched_count, result.modified_count) == (1, 1)
    assert (by_oid.matched_count, by_oid.modified_count) == (1, 1)
    assert (missing.matched_count, missing.modified_count) == (0, 0)
    assert messages.find_one({"_id": "m-17"}) == {"_id": "m-17", "chat": "c2", "seq": 17, "text": "edited"}
    assert messages.find_one({"_id": OBJECT_IDS[2]})["seq"] == 102
    assert messages.count_documents({"text": {"$exists": True}}) == 1
    assert messages.count_documents({"seq": {"$gte": 100}}) == 1


def test_delete_one_by_id_removes_exactly_that_document(messages):
    deleted = messages.delete_one({"_id": "m-18"})
    by_oid = messages.delete_one({"_id": OBJECT_IDS[5]})
    missing = messages.delete_one({"_id": "m-18"})

    assert (deleted.deleted_count, by_oid.deleted_count, missing.deleted_count) == (1, 1, 0)
    assert messages.find_one({"_id": "m-18"}) is None
    assert messages.find_one({"_id": OBJECT_IDS[5]}) is None
    assert messages.count_documents({}) == 68
    assert messages.find_one({"_id": "m-19"})["seq"] == 19


def test_writes_selected_by_another_field_update_and_delete_the_right_documents(messages):
    # FerretDB updates and deletes these by the `_id`s it found with a scan, through the same
    # `_id` expression as above, now matched by the index.
    updated = messages.update_many({"chat": "c1"}, {"$set": {"archived": True}})
    deleted = messages.delete_many({"chat": "c3"})

    assert updated.modified_count == 10
    assert deleted.deleted_count == 10
    assert sorted(d["seq"] for d in messages.find({"archived": True})) == list(range(1, 50, 5))
    assert messages.count_documents({"chat": "c3"}) == 0
    assert messages.count_documents({}) == 60


def test_filters_on_other_fields_still_give_the_right_documents(messages):
    page = list(messages.find({"chat": "c2", "seq": {"$gt": 20}}).sort("seq", -1).limit(3))
    ids_in = list(messages.find({"_id": {"$in": ["m-1", "m-2", OBJECT_IDS[0]]}}).sort("seq", 1))
    numeric_id = messages.find_one({"_id": 17})

    assert [d["_id"] for d in page] == ["m-47", "m-42", "m-37"]
    assert {d["_id"] for d in ids_in} == {"m-1", "m-2", OBJECT_IDS[0]}
    assert numeric_id is None
    # Not pushed down (docs/adr/0003): FerretDB reads every row and filters itself.
    assert plan(messages, {"chat": "c2"})["filterPushdown"] is False
    assert plan(messages, {"_id": {"$in": ["m-1", "m-2"]}})["filterPushdown"] is False


def test_the_id_index_still_rejects_a_duplicate(messages):
    with pytest.raises(DuplicateKeyError):
        messages.insert_one({"_id": "m-3", "chat": "c9", "seq": 999})

    assert messages.find_one({"_id": "m-3"})["chat"] == "c3"


def test_build_info_names_the_patched_build(messages):
    build = messages.database.client.admin.command("buildInfo")

    assert build["ferretdbVersion"] == f"{toolchain.FERRETDB_VERSION}-{toolchain.FERRETDB_BUILD}"
