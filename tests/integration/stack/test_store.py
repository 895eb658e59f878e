"""The MongoDB-wire features Svyaz relies on, against each region's real FerretDB."""

from __future__ import annotations

import pytest
from pymongo import ASCENDING, DESCENDING, MongoClient
from pymongo.errors import DuplicateKeyError


@pytest.fixture
def messages(stack, test_id):
    """A collection in a database of this test's own, on each region's store; dropped afterwards."""
    clients = {region: MongoClient(stack.mongo(region), serverSelectionTimeoutMS=5000) for region in stack.regions}
    yield {region: client[f"{test_id}_private"]["messages"] for region, client in clients.items()}
    for client in clients.values():
        client.drop_database(f"{test_id}_private")
        client.close()


def test_each_region_stores_and_pages_a_chat_by_sequence(messages):
    for region, collection in messages.items():
        collection.create_index([("chat", ASCENDING), ("seq", ASCENDING)], unique=True)
        collection.insert_many([{"chat": "c1", "seq": n, "text": f"{region} message {n}"} for n in range(1, 121)])

        latest = list(collection.find({"chat": "c1"}).sort("seq", DESCENDING).limit(50))
        older = list(collection.find({"chat": "c1", "seq": {"$lt": latest[-1]["seq"]}}).sort("seq", DESCENDING).limit(50))

        assert [m["seq"] for m in latest] == list(range(120, 70, -1))
        assert [m["seq"] for m in older] == list(range(70, 20, -1))
        assert latest[0]["text"] == f"{region} message 120"


def test_a_unique_index_makes_a_resent_message_a_duplicate_not_a_copy(messages):
    collection = messages["ru"]
    collection.create_index([("chat", ASCENDING), ("seq", ASCENDING)], unique=True)
    collection.insert_one({"chat": "c1", "seq": 1, "text": "first"})

    with pytest.raises(DuplicateKeyError):
        collection.insert_one({"chat": "c1", "seq": 1, "text": "resent after a timeout"})

    assert collection.count_documents({"chat": "c1"}) == 1


def test_regions_do_not_share_a_store(messages):
    messages["ru"].insert_one({"chat": "c1", "seq": 1, "text": "only in ru"})

    for region, collection in messages.items():
        assert collection.count_documents({}) == (1 if region == "ru" else 0)
