"""Sealing a stored document's protected fields (svyaz/messaging/at_rest.py), with a fake sealer.

The fake is an XOR "cipher" plus an exact check of the associated data: enough to show which
bytes the sealer is given and that a moved or changed envelope is refused. The real AEAD is
exercised on the real store in tests/integration/messaging/test_content_at_rest.py.
"""

from __future__ import annotations

import json

import pytest

from svyaz.messaging.at_rest import (
    CHAT_PREVIEW,
    MESSAGE_CONTENT,
    REPORT_EVIDENCE,
    AtRest,
    SealFailed,
    StoreCorrupt,
    has_content,
    key_of,
)


class FakeSealer:
    def __init__(self, current: str = "k1") -> None:
        self.current = current
        self.keys = {"k1": 0x11, "k2": 0x22}
        self.sealed: list[bytes] = []

    def current_key_id(self) -> str:
        return self.current

    def seal(self, plaintext: bytes, associated_data: bytes) -> tuple[str, bytes, bytes]:
        self.sealed.append(plaintext)
        mask = self.keys[self.current]
        return self.current, associated_data, bytes(b ^ mask for b in plaintext)

    def open(self, key_id: str, nonce: bytes, ciphertext: bytes, associated_data: bytes) -> bytes:
        if key_id not in self.keys:
            raise SealFailed(f"no content key {key_id!r} in the key ring")
        if nonce != associated_data:   # the fake keeps the associated data it was sealed with as nonce
            raise SealFailed("does not authenticate")
        return bytes(b ^ self.keys[key_id] for b in ciphertext)


def message_doc(text: str = "Привет, Боб! see https://example.org", links=("https://example.org",)) -> dict:
    return {"_id": "dm/@alice:ru/@bob:ru#1", "chat": "dm/@alice:ru/@bob:ru", "seq": 1, "sender": "@alice:ru",
            "text": text, "links": list(links), "sent_at": 1.5, "sealed": None, "franking": None}


def test_protected_fields_leave_the_document_and_come_back():
    at_rest = AtRest(FakeSealer())
    stored = at_rest.sealed(MESSAGE_CONTENT, message_doc())
    assert "text" not in stored and "links" not in stored
    assert key_of(MESSAGE_CONTENT, stored) == "k1"
    assert "Привет".encode() not in repr(stored).encode() and "example.org" not in repr(stored)
    # Metadata stays in clear: the store queries and sorts on it.
    assert (stored["chat"], stored["seq"], stored["sender"], stored["sent_at"]) == ("dm/@alice:ru/@bob:ru", 1,
                                                                                    "@alice:ru", 1.5)
    assert at_rest.opened(MESSAGE_CONTENT, stored) == message_doc()


def test_one_seal_per_document_for_all_its_protected_fields():
    sealer = FakeSealer()
    AtRest(sealer).sealed(MESSAGE_CONTENT, message_doc())
    assert [json.loads(p) for p in sealer.sealed] == [{"text": message_doc()["text"], "links": ["https://example.org"]}]


def test_an_envelope_moved_to_another_document_or_field_does_not_open():
    at_rest = AtRest(FakeSealer())
    stored = at_rest.sealed(MESSAGE_CONTENT, message_doc())
    moved = {**message_doc(), "_id": "dm/@alice:ru/@bob:ru#2", "content_sealed": stored["content_sealed"]}
    del moved["text"], moved["links"]
    with pytest.raises(StoreCorrupt) as corrupt:
        at_rest.opened(MESSAGE_CONTENT, moved)
    assert "dm/@alice:ru/@bob:ru#2" in str(corrupt.value) and corrupt.value.code == "store_corrupt"
    as_preview = {"_id": "dm/@alice:ru/@bob:ru#1", "preview_sealed": stored["content_sealed"]}
    with pytest.raises(StoreCorrupt):
        at_rest.opened(CHAT_PREVIEW, as_preview)


def test_a_changed_or_unknown_key_envelope_is_a_store_corrupt_error_naming_the_document_not_the_content():
    at_rest = AtRest(FakeSealer())
    stored = at_rest.sealed(MESSAGE_CONTENT, message_doc(text="a secret plan"))
    unknown = {**stored, "content_sealed": {**stored["content_sealed"], "k": "k9"}}
    malformed = {**stored, "content_sealed": "garbage"}
    garbled = {**stored, "content_sealed": {**stored["content_sealed"], "c": b"\x00" * 5}}
    for doc, says in ((unknown, "no content key 'k9'"), (malformed, "malformed"),
                      (garbled, "not what was sealed")):
        with pytest.raises(StoreCorrupt) as corrupt:
            at_rest.opened(MESSAGE_CONTENT, doc)
        assert says in str(corrupt.value) and "dm/@alice:ru/@bob:ru#1" in str(corrupt.value)
        assert "secret plan" not in str(corrupt.value)


def test_a_legacy_plaintext_document_reads_as_it_is():
    assert AtRest(FakeSealer()).opened(MESSAGE_CONTENT, message_doc()) == message_doc()


def test_empty_content_is_not_sealed():
    sealer = FakeSealer()
    secret = {**message_doc(text="", links=()), "sealed": "b64envelope", "franking": "b64commitment"}
    entry = {"_id": "@bob:ru|dm/@alice:ru/@bob:ru", "preview": "", "version": 1}
    assert AtRest(sealer).sealed(MESSAGE_CONTENT, secret) == secret
    assert AtRest(sealer).sealed(CHAT_PREVIEW, entry) == entry
    assert sealer.sealed == [] and not has_content(MESSAGE_CONTENT, secret)


def test_with_sealing_off_new_writes_are_plaintext_but_sealed_ones_still_open():
    sealer = FakeSealer()
    stored = AtRest(sealer).sealed(CHAT_PREVIEW, {"_id": "a|c", "preview": "hello", "version": 3})
    off = AtRest(sealer, seal_new=False)
    assert off.sealed(CHAT_PREVIEW, {"_id": "a|d", "preview": "hi"}) == {"_id": "a|d", "preview": "hi"}
    assert off.opened(CHAT_PREVIEW, stored) == {"_id": "a|c", "preview": "hello", "version": 3}


def test_without_a_key_ring_a_sealed_document_says_so():
    stored = AtRest(FakeSealer()).sealed(CHAT_PREVIEW, {"_id": "a|c", "preview": "hello"})
    with pytest.raises(StoreCorrupt) as corrupt:
        AtRest(None).opened(CHAT_PREVIEW, stored)
    assert "no content key ring" in str(corrupt.value)


def test_old_keys_open_after_a_rotation_and_new_writes_use_the_new_key():
    sealer = FakeSealer("k1")
    at_rest = AtRest(sealer)
    old = at_rest.sealed(REPORT_EVIDENCE, {"_id": "r1", "note": "ads", "messages": [{"text": "buy"}]})
    sealer.current = "k2"
    new = at_rest.sealed(REPORT_EVIDENCE, {"_id": "r2", "note": "more ads", "messages": []})
    assert (key_of(REPORT_EVIDENCE, old), key_of(REPORT_EVIDENCE, new)) == ("k1", "k2")
    assert at_rest.opened(REPORT_EVIDENCE, old)["messages"] == [{"text": "buy"}]


def test_a_stale_envelope_is_replaced_not_kept_beside_new_plaintext():
    at_rest = AtRest(FakeSealer())
    stored = at_rest.sealed(CHAT_PREVIEW, {"_id": "a|c", "preview": "old"})
    rewritten = at_rest.sealed(CHAT_PREVIEW, {**stored, "preview": ""})
    assert rewritten == {"_id": "a|c", "preview": ""}


def test_the_port_is_pure_and_knows_nothing_of_the_node_or_the_crypto():
    from pathlib import Path

    import svyaz.messaging.at_rest as module
    from tests.layering import imported_modules, within

    imports = imported_modules(Path(module.__file__))
    assert not {name for name in imports if within(name, ("trio", "pymongo", "bson", "svyaz.node", "svyaz.gost"))}
