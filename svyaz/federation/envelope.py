"""The federation event on the wire: a signed JSON envelope, one per record of `outbox.<peer>`.

    {"v":1,"origin":"ru","destination":"kz","stream":"dm/@alice:ru/@bob:kz","seq":7,
     "id":"<32 hex>","created_at":1718000000123,"kind":"message.created","payload":{...},
     "key_id":"<16 hex>","sig":"<base64 of 64 bytes>"}

`seq` counts the events `origin` has sent to `destination` on `stream`: 1, 2, 3, ... with no gaps,
so the receiver (which is always `destination`) orders and de-duplicates per (origin, stream);
see `svyaz.federation.ledger`. `created_at` is Unix time in integer milliseconds (an integer, so
the canonical encoding has no float formatting in it). `key_id` is the fingerprint of the origin
key that signed (`PublicKey.fingerprint()`: 16 hex digits of Streebog-256 over its DER).

The signature is GOST R 34.10-2012 (256-bit) with Streebog-256 over the canonical encoding:

    b"svyaz federation v1\\x00" + UTF-8( JSON of every field but "sig", keys sorted, no spaces,
                                         non-ASCII as itself, no NaN/Infinity )

The receiver re-encodes what it parsed and verifies that, so it verifies exactly the values it
acts on. To keep that sound, decoding refuses what could be read two ways: duplicate keys,
NaN/Infinity, lone surrogates, unknown fields.

Every refusal is a `svyaz.federation.errors.Refused` with a stable code. May import only the
standard library, `svyaz.errors`, `svyaz.regions`, `svyaz.gost` and `svyaz.federation`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from svyaz.federation.errors import (
    FederationConfigError,
    Forged,
    Malformed,
    Misrouted,
    Oversized,
    Skewed,
    Unsigned,
    UnknownOrigin,
)
from svyaz.gost.keys import PrivateKey
from svyaz.regions import KNOWN_REGIONS

VERSION = 1
CONTEXT = b"svyaz federation v1\x00"
MAX_ENVELOPE_BYTES = 256 * 1024
# A peer's clock may run ahead of ours by this much. There is deliberately no bound on age: after a
# MirrorMaker 2 or Kafka outage a backlog arrives late and must still be applied (replays are the
# ledger's job, by event id and sequence number, not the clock's).
MAX_FUTURE_SKEW_MS = 5 * 60 * 1000
SIGNATURE_BYTES = 64
MAX_SAFE_INT = 2**53 - 1  # JSON numbers every peer implementation reads exactly

_EVENT_ID = re.compile(r"[0-9a-f]{32}")
_KEY_ID = re.compile(r"[0-9a-f]{16}")
_KIND = re.compile(r"[a-z][a-z0-9_.]{0,63}")
# A chat id or another stream name: printable, no spaces or control characters.
_STREAM = re.compile(r"[!-~]{1,256}")
_FIELDS = ("v", "origin", "destination", "stream", "seq", "id", "created_at", "kind", "payload", "key_id", "sig")


@dataclass(frozen=True)
class Envelope:
    """A federation event as signed by its origin. `signature` is empty until signed."""

    origin: str
    destination: str
    stream: str
    seq: int
    id: str
    created_at: int
    kind: str
    payload: Mapping[str, Any] = field(hash=False)
    key_id: str
    signature: bytes = field(default=b"", repr=False)

    def signed_fields(self) -> dict[str, Any]:
        return {"v": VERSION, "origin": self.origin, "destination": self.destination, "stream": self.stream,
                "seq": self.seq, "id": self.id, "created_at": self.created_at, "kind": self.kind,
                "payload": self.payload, "key_id": self.key_id}

    def signed_bytes(self) -> bytes:
        """The canonical encoding the signature covers (module docstring)."""
        return CONTEXT + _canonical_json(self.signed_fields())


def new_event_id() -> str:
    return uuid.uuid4().hex


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Signer:
    """The node's federation key: signs the envelopes its region sends. 256-bit keys only."""

    def __init__(self, region: str, key: PrivateKey) -> None:
        if region not in KNOWN_REGIONS:
            raise FederationConfigError(f"region: unknown region {region!r}")
        if key.curve.signature_bytes != SIGNATURE_BYTES:
            raise FederationConfigError(f"the federation key must be a 256-bit GOST key, not {key.curve.name}")
        self.region = region
        self._key = key
        self.key_id = key.public_key().fingerprint()

    def public_pem(self) -> bytes:
        return self._key.public_key().to_pem()

    def seal(self, *, destination: str, stream: str, seq: int, kind: str, payload: Mapping[str, Any],
             event_id: str | None = None, created_at: int | None = None) -> Envelope:
        """A signed envelope from this region to `destination`, checked as the receiver will check it."""
        if not isinstance(payload, Mapping):
            raise Malformed(f"envelope payload: expected a JSON object, got {_shown(payload)}")
        # A private copy, exactly as the receiver will parse it (tuples become lists, and so on):
        # the caller cannot change it after signing, and both sides hold equal payloads.
        payload = json.loads(_canonical_json(payload))
        unsigned = Envelope(origin=self.region, destination=destination, stream=stream, seq=seq,
                            id=event_id or new_event_id(), created_at=now_ms() if created_at is None else created_at,
                            kind=kind, payload=payload, key_id=self.key_id)
        _check_fields(unsigned.signed_fields())
        _check_route(unsigned.origin, unsigned.destination)
        return replace(unsigned, signature=self._key.sign(unsigned.signed_bytes()))

    def __repr__(self) -> str:
        return f"<Signer {self.region} {self.key_id}>"


def encode(envelope: Envelope) -> bytes:
    """The record value: the canonical JSON plus `sig`. Refuses what a peer would refuse."""
    if not envelope.signature:
        raise Unsigned("an envelope must be signed before it is encoded")
    doc = envelope.signed_fields()
    _check_fields(doc)
    doc["sig"] = base64.b64encode(envelope.signature).decode("ascii")
    raw = _canonical_json(doc)
    if len(raw) > MAX_ENVELOPE_BYTES:
        raise Oversized(f"envelope of {len(raw)} bytes is over {MAX_ENVELOPE_BYTES}")
    return raw


def decode(raw: bytes, *, local_region: str, now: int | None = None,
           max_future_skew_ms: int = MAX_FUTURE_SKEW_MS) -> Envelope:
    """Parse and check a record addressed to `local_region`; the signature is checked by
    `svyaz.federation.trust`. Raises a `Refused` kind: oversized, malformed, unsigned,
    unknown_origin, misrouted or skewed (in that order of checking)."""
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise Malformed(f"a record value is bytes, not {type(raw).__name__}")
    raw = bytes(raw)
    if len(raw) > MAX_ENVELOPE_BYTES:
        raise Oversized(f"envelope of {len(raw)} bytes is over {MAX_ENVELOPE_BYTES}")
    doc = _parse(raw)
    sig = doc.get("sig")
    if sig is None or sig == "":
        raise Unsigned("the envelope has no signature")
    if set(doc) != set(_FIELDS):
        missing, unknown = sorted(set(_FIELDS) - set(doc)), sorted(set(doc) - set(_FIELDS))
        raise Malformed("envelope fields: " + "; ".join(
            part for part in (missing and f"missing {', '.join(missing)}",
                              unknown and f"unknown {', '.join(name[:40] for name in unknown[:5])}") if part))
    _check_fields(doc)
    _canonical_json(doc)  # refuses what has no canonical form (a lone surrogate) before verify needs it
    signature = _signature(sig)
    _check_route(doc["origin"], doc["destination"], local_region=local_region)
    now = now_ms() if now is None else now
    if doc["created_at"] > now + max_future_skew_ms:
        raise Skewed(f"created_at is {(doc['created_at'] - now) / 1000:.1f} s in the future "
                     f"(bound {max_future_skew_ms / 1000:.0f} s): is {doc['origin']}'s clock right?")
    return Envelope(origin=doc["origin"], destination=doc["destination"], stream=doc["stream"], seq=doc["seq"],
                    id=doc["id"], created_at=doc["created_at"], kind=doc["kind"], payload=doc["payload"],
                    key_id=doc["key_id"], signature=signature)


def _canonical_json(doc: Mapping[str, Any]) -> bytes:
    try:
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as err:  # not JSON data, NaN, a lone surrogate (UnicodeEncodeError)
        raise Malformed(f"the envelope is not canonical JSON data: {err}") from None


def _parse(raw: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except UnicodeDecodeError:
        raise Malformed("the envelope is not UTF-8") from None
    except RecursionError:
        raise Malformed("the envelope nests too deeply") from None
    except ValueError as err:
        raise Malformed(f"the envelope is not JSON: {err}") from None
    if not isinstance(doc, dict):
        raise Malformed("the envelope is not a JSON object")
    return doc


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc = dict(pairs)
    if len(doc) != len(pairs):
        raise ValueError("a key appears twice in one object")
    return doc


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _is_int(value: object, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= MAX_SAFE_INT


def _check_fields(doc: Mapping[str, Any]) -> None:
    """Types and shapes of every signed field; raises Malformed naming the first bad one."""
    checks = (
        ("v", lambda v: v == VERSION and not isinstance(v, bool), f"the version {VERSION}"),
        ("origin", lambda v: isinstance(v, str) and re.fullmatch(r"[a-z]{2}", v), "a two-letter region"),
        ("destination", lambda v: isinstance(v, str) and re.fullmatch(r"[a-z]{2}", v), "a two-letter region"),
        ("stream", lambda v: isinstance(v, str) and _STREAM.fullmatch(v), "1-256 printable ASCII characters"),
        ("seq", lambda v: _is_int(v, 1), "an integer from 1"),
        ("id", lambda v: isinstance(v, str) and _EVENT_ID.fullmatch(v), "32 lowercase hex digits"),
        ("created_at", lambda v: _is_int(v, 0), "Unix time in integer milliseconds"),
        ("kind", lambda v: isinstance(v, str) and _KIND.fullmatch(v), "a kind such as message.created"),
        ("payload", lambda v: isinstance(v, Mapping), "a JSON object"),
        ("key_id", lambda v: isinstance(v, str) and _KEY_ID.fullmatch(v), "16 lowercase hex digits"),
    )
    for name, ok, expected in checks:
        value = doc.get(name)
        if not ok(value):
            raise Malformed(f"envelope {name}: expected {expected}, got {_shown(value)}")


def _check_route(origin: str, destination: str, *, local_region: str | None = None) -> None:
    if origin not in KNOWN_REGIONS:
        raise UnknownOrigin(f"origin {origin!r} is not a known region ({', '.join(KNOWN_REGIONS)})")
    if destination not in KNOWN_REGIONS:
        raise Misrouted(f"destination {destination!r} is not a known region")
    if destination == origin:
        raise Misrouted(f"an envelope from {origin} to itself: a region never federates with itself")
    if local_region is not None and destination != local_region:
        raise Misrouted(f"the envelope is addressed to {destination}, and this is {local_region}")


def _signature(sig: object) -> bytes:
    if not isinstance(sig, str):
        raise Forged(f"the signature is not a base64 string but {type(sig).__name__}")
    try:
        signature = base64.b64decode(sig, validate=True)
    except (binascii.Error, ValueError):
        raise Forged("the signature is not valid base64") from None
    if len(signature) != SIGNATURE_BYTES:
        raise Forged(f"the signature is {len(signature)} bytes, not {SIGNATURE_BYTES}")
    return signature


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
