"""Message content sealed at rest: which fields of which stored documents, and how a document's
protected fields become one sealed envelope and back.

A stored document keeps its metadata in clear (ids, senders, timestamps, sequence numbers, flags:
what the store queries and sorts on) and puts its protected fields together in one envelope
`<name>_sealed = {"k": key id, "n": nonce, "c": ciphertext}`, with no plaintext copy left:

    message documents   text, links          -> content_sealed
    chat-list entries   preview              -> preview_sealed
    report copies       note, messages       -> evidence_sealed  (the copies as the reporter saw them)

The plaintext is the protected fields as compact JSON; the associated data names the kind of
document, its `_id` and the envelope, so an envelope copied into another document, or into
another field, does not open. A document whose protected fields are all empty (a deleted
message, a secret-chat message whose content is its own `sealed` envelope, an empty preview) is
stored as it is: there is nothing to hide, and no seal to pay for.

The sealer is a port (`ContentSealer`): the node's key ring (svyaz.node.content_keys) implements
it with Kuznyechik AEAD. This module is pure: no driver, no crypto import; `bytes` values become
BSON binary in the adapters by themselves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from svyaz.messaging.errors import MessagingError

AD_VERSION = "svyaz at-rest v1"


class SealFailed(Exception):
    """Raised by a sealer that cannot seal or open; its message never holds key bytes or content."""


class ContentSealer(Protocol):
    """Seals under the current key and opens under any key it still holds. Thread-safe."""

    def seal(self, plaintext: bytes, associated_data: bytes) -> tuple[str, bytes, bytes]:
        """(key id, nonce, ciphertext) of `plaintext` under the current key."""
        ...

    def open(self, key_id: str, nonce: bytes, ciphertext: bytes, associated_data: bytes) -> bytes:
        """The plaintext, or SealFailed (unknown key id, or it does not authenticate)."""
        ...

    def current_key_id(self) -> str:
        """The id of the key the next `seal` uses."""
        ...


class StoreCorrupt(MessagingError):
    """A stored document whose sealed content does not open: changed in the store, or sealed with
    a key this node no longer holds. Names the document, never its content."""

    code = "store_corrupt"


@dataclass(frozen=True)
class Protected:
    """The fields of one kind of document that are sealed together into `envelope`."""

    kind: str
    envelope: str
    fields: tuple[str, ...]

    def associated_data(self, doc_id: object) -> bytes:
        return json.dumps([AD_VERSION, self.kind, str(doc_id), self.envelope], ensure_ascii=False).encode()


MESSAGE_CONTENT = Protected("message", "content_sealed", ("text", "links"))
CHAT_PREVIEW = Protected("chatlist", "preview_sealed", ("preview",))
REPORT_EVIDENCE = Protected("report", "evidence_sealed", ("note", "messages"))


class AtRest:
    """How an adapter writes and reads the protected fields of its documents.

    `sealer` None: nothing is sealed and a sealed document cannot be read (StoreCorrupt says so).
    `seal_new` False (store.encrypt_content = false): new writes are plaintext, while documents
    sealed before stay readable as long as the key ring is there.
    """

    def __init__(self, sealer: ContentSealer | None = None, *, seal_new: bool = True) -> None:
        self.sealer = sealer
        self.seal_new = seal_new and sealer is not None

    def current_key(self) -> str | None:
        return self.sealer.current_key_id() if self.sealer is not None else None

    def sealed(self, spec: Protected, doc: Mapping[str, Any]) -> dict[str, Any]:
        """`doc` as it is stored: its protected fields replaced by the envelope (if sealing)."""
        stored = dict(doc)
        stored.pop(spec.envelope, None)
        if not self.seal_new or not has_content(spec, stored):
            return stored
        return {**self.envelope(spec, stored["_id"], {name: stored.pop(name) for name in spec.fields
                                                      if name in stored}), **stored}

    def envelope(self, spec: Protected, doc_id: object, values: Mapping[str, Any]) -> dict[str, Any]:
        """{spec.envelope: {...}} holding `values` sealed under the current key."""
        assert self.sealer is not None
        plaintext = json.dumps(dict(values), ensure_ascii=False, separators=(",", ":")).encode()
        try:
            key_id, nonce, ciphertext = self.sealer.seal(plaintext, spec.associated_data(doc_id))
        except SealFailed as err:
            raise StoreCorrupt(f"cannot seal {spec.kind} {doc_id}: {err}") from err
        return {spec.envelope: {"k": key_id, "n": nonce, "c": ciphertext}}

    def opened(self, spec: Protected, doc: Mapping[str, Any]) -> dict[str, Any]:
        """`doc` with its protected fields in clear, whether it was stored sealed or (legacy) not."""
        if spec.envelope not in doc:
            return dict(doc)
        opened = {name: value for name, value in doc.items() if name != spec.envelope}
        opened.update(self.open_envelope(spec, doc))
        return opened

    def open_envelope(self, spec: Protected, doc: Mapping[str, Any]) -> dict[str, Any]:
        doc_id = doc.get("_id")
        envelope = doc[spec.envelope]
        where = f"stored {spec.kind} {doc_id!s}"
        if not isinstance(envelope, Mapping) or not {"k", "n", "c"} <= envelope.keys():
            raise StoreCorrupt(f"{where}: its {spec.envelope} is malformed")
        if self.sealer is None:
            raise StoreCorrupt(f"{where} is sealed (key {envelope['k']!s:.16}) but this node has no content key ring",
                               hint="point node.data_dir at the directory holding content-keys/")
        try:
            plaintext = self.sealer.open(str(envelope["k"]), bytes(envelope["n"]), bytes(envelope["c"]),
                                         spec.associated_data(doc_id))
            values = json.loads(plaintext)
        except (SealFailed, TypeError, ValueError) as err:
            # The reason (unknown key, does not authenticate) comes from the sealer and holds no content.
            reason = str(err) if isinstance(err, SealFailed) else "its plaintext is not what was sealed"
            raise StoreCorrupt(f"{where}: its {spec.envelope} does not open ({reason})",
                               hint="restore the document or the content key ring from backup") from None
        if not isinstance(values, dict) or not set(values) <= set(spec.fields):
            raise StoreCorrupt(f"{where}: its {spec.envelope} holds unexpected fields")
        return values


PLAINTEXT = AtRest(None)


def has_content(spec: Protected, doc: Mapping[str, Any]) -> bool:
    """Whether any protected field holds something (an empty text or list has nothing to hide)."""
    return any(doc.get(name) for name in spec.fields)


def key_of(spec: Protected, doc: Mapping[str, Any]) -> str | None:
    """The key id a stored document's content is sealed with; None if it is not sealed."""
    envelope = doc.get(spec.envelope)
    if isinstance(envelope, Mapping):
        return str(envelope.get("k"))
    return None
