"""`content-key rewrap` on one document (svyaz/messaging/store.py `_rewrap_one`), against a fake
collection that lets a node write land between rewrap's read and its write."""

from __future__ import annotations

from svyaz.messaging.at_rest import MESSAGE_CONTENT, AtRest
from svyaz.messaging.store import _rewrap_one
from tests.unit.messaging.test_at_rest import FakeSealer, message_doc


class RacingCollection:
    """One document; `meanwhile` is applied just before the first write, as a node's edit would be."""

    full_name = "t_private.messages"

    def __init__(self, doc: dict, meanwhile: dict | None = None) -> None:
        self.doc = dict(doc)
        self.meanwhile = meanwhile

    def find_one_and_update(self, query: dict, update: dict, return_document) -> dict | None:
        assert query == {"_id": self.doc["_id"]}
        if self.meanwhile is not None:
            self.doc, self.meanwhile = self.meanwhile, None
        before = dict(self.doc)
        self.doc.update(update.get("$set", {}))
        for name in update.get("$unset", {}):
            self.doc.pop(name, None)
        return before


def test_a_plaintext_document_is_sealed_in_place():
    at_rest = AtRest(FakeSealer())
    collection = RacingCollection(message_doc())
    assert _rewrap_one(collection, MESSAGE_CONTENT, at_rest, dict(collection.doc)) == "sealed"
    assert "text" not in collection.doc and at_rest.opened(MESSAGE_CONTENT, collection.doc) == message_doc()


def test_an_old_key_is_resealed_and_a_current_one_left_alone():
    sealer = FakeSealer("k1")
    at_rest = AtRest(sealer)
    stored = at_rest.sealed(MESSAGE_CONTENT, message_doc())
    sealer.current = "k2"
    collection = RacingCollection(stored)
    assert _rewrap_one(collection, MESSAGE_CONTENT, at_rest, dict(stored)) == "resealed"
    assert collection.doc["content_sealed"]["k"] == "k2"
    assert _rewrap_one(collection, MESSAGE_CONTENT, at_rest, dict(collection.doc)) == "current"


def test_an_edit_landing_between_read_and_write_is_kept_not_overwritten():
    at_rest = AtRest(FakeSealer())
    read = message_doc(text="the old words")
    edited = {**message_doc(text="the edited words"), "edited_at": 9.0}
    collection = RacingCollection(read, meanwhile=edited)
    _rewrap_one(collection, MESSAGE_CONTENT, at_rest, dict(read))
    assert at_rest.opened(MESSAGE_CONTENT, collection.doc)["text"] == "the edited words"
    assert "text" not in collection.doc


def test_a_delete_landing_between_read_and_write_does_not_bring_the_text_back():
    at_rest = AtRest(FakeSealer())
    read = message_doc(text="regretted words")
    deleted = {**message_doc(text="", links=()), "deleted": True}
    collection = RacingCollection(read, meanwhile=deleted)
    _rewrap_one(collection, MESSAGE_CONTENT, at_rest, dict(read))
    assert "content_sealed" not in collection.doc and collection.doc["text"] == ""
