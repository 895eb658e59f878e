"""The envelope on the wire: round trip, canonical encoding, and every refusal decode makes."""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest

from svyaz.federation import envelope as env
from svyaz.federation.envelope import CONTEXT, MAX_ENVELOPE_BYTES, decode, encode
from svyaz.federation.errors import (
    Forged,
    Malformed,
    Misrouted,
    Oversized,
    Refused,
    Skewed,
    UnknownKey,
    UnknownOrigin,
    Unsigned,
)
from svyaz.federation.trust import PeerKeys, PinnedKey
from svyaz.gost.keys import Curve, PrivateKey

from tests.unit.federation.conftest import NOW

STREAM = "dm/@alice:ru/@bob:kz"


def _seal(signer, **changes):
    fields = dict(destination="kz", stream=STREAM, seq=1, kind="message.created",
                  payload={"text": "привет", "seq": 41, "tags": ["a", "b"]}, created_at=NOW)
    fields.update(changes)
    return signer.seal(**fields)


def _doc(raw: bytes) -> dict:
    return json.loads(raw)


def _raw(doc: dict) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def _open(raw: bytes, trust, *, now: int = NOW):
    return trust.verify(decode(raw, local_region="kz", now=now))


def test_a_sealed_envelope_round_trips_and_verifies(ru, kz_trust):
    sealed = _seal(ru)

    verified = _open(encode(sealed), kz_trust)

    assert verified.envelope == sealed
    assert verified.payload == {"text": "привет", "seq": 41, "tags": ["a", "b"]}
    assert (verified.origin, verified.stream, verified.seq, verified.kind) == ("ru", STREAM, 1, "message.created")
    assert verified.envelope.key_id == ru.key_id == ru._key.public_key().fingerprint()
    assert len(verified.digest) == 32


def test_the_canonical_encoding_is_sorted_compact_utf8_json_under_the_context(ru):
    sealed = _seal(ru, payload={"b": 1, "a": "ё"})

    signed = sealed.signed_bytes()

    assert signed.startswith(b"svyaz federation v1\x00")
    body = signed[len(CONTEXT):]
    assert body == json.dumps(sealed.signed_fields(), sort_keys=True, separators=(",", ":"),
                              ensure_ascii=False).encode("utf-8")
    assert b'"payload":{"a":"\xd1\x91","b":1}' in body and b" " not in body
    assert "sig" not in json.loads(body)
    # The record is the same JSON plus the signature, in base64.
    doc = _doc(encode(sealed))
    assert base64.b64decode(doc.pop("sig")) == sealed.signature
    assert doc == json.loads(body)


def test_the_signature_is_checkable_with_the_bare_public_key(ru, keys):
    sealed = _seal(ru)
    assert keys["ru"].public_key().verify(sealed.signature, sealed.signed_bytes())


def test_sealing_copies_the_payload_as_the_receiver_will_read_it(ru, kz_trust):
    payload = {"ids": (1, 2), "nested": {"x": None}}
    sealed = _seal(ru, payload=payload)
    payload["nested"]["x"] = "changed after signing"

    assert sealed.payload == {"ids": [1, 2], "nested": {"x": None}}
    assert _open(encode(sealed), kz_trust).payload == sealed.payload


def test_an_unsigned_envelope_is_refused(ru, kz_trust):
    doc = _doc(encode(_seal(ru)))
    without = {k: v for k, v in doc.items() if k != "sig"}

    for raw in (_raw(without), _raw({**doc, "sig": ""}), _raw({**doc, "sig": None})):
        with pytest.raises(Unsigned) as refused:
            decode(raw, local_region="kz", now=NOW)
        assert refused.value.code == "unsigned"
    with pytest.raises(Unsigned):
        encode(dataclasses.replace(_seal(ru), signature=b""))


def test_a_forged_signature_is_refused(ru, keys, kz_trust):
    sealed = _seal(ru)
    mallory = keys["mallory"].sign(sealed.signed_bytes())
    doc = {**_doc(encode(sealed)), "sig": base64.b64encode(mallory).decode()}

    with pytest.raises(Forged) as refused:
        _open(_raw(doc), kz_trust)
    assert refused.value.code == "forged"


@pytest.mark.parametrize("sig", ["not base64!", base64.b64encode(b"short").decode(), 12345])
def test_a_signature_that_cannot_be_one_is_forged(ru, sig):
    doc = {**_doc(encode(_seal(ru))), "sig": sig}
    with pytest.raises(Forged):
        decode(_raw(doc), local_region="kz", now=NOW)


@pytest.mark.parametrize("field, value", [
    ("payload", {"text": "переведите 1000000", "seq": 41, "tags": ["a", "b"]}),
    ("stream", "dm/@alice:ru/@eve:kz"),
    ("seq", 2),
    ("id", "f" * 32),
    ("created_at", NOW - 1),
    ("kind", "message.deleted"),
])
def test_any_field_changed_after_signing_breaks_the_signature(ru, kz_trust, field, value):
    doc = {**_doc(encode(_seal(ru))), field: value}

    with pytest.raises(Forged):
        _open(_raw(doc), kz_trust)


def test_a_changed_key_id_names_a_key_that_is_not_pinned(ru, kz_trust):
    doc = {**_doc(encode(_seal(ru))), "key_id": "0" * 16}

    with pytest.raises(UnknownKey) as refused:
        _open(_raw(doc), kz_trust)
    assert refused.value.code == "unknown_key"


def test_a_different_byte_layout_of_the_same_values_still_verifies(ru, kz_trust):
    # The signature covers the values (re-encoded canonically), not the producer's whitespace.
    sealed = _seal(ru)
    doc = _doc(encode(sealed))
    spaced = json.dumps(dict(reversed(list(doc.items()))), indent=2, ensure_ascii=True).encode()

    assert _open(spaced, kz_trust).envelope == sealed


def test_an_oversized_envelope_is_refused_before_parsing(ru):
    with pytest.raises(Oversized) as refused:
        decode(b" " * (MAX_ENVELOPE_BYTES + 1), local_region="kz", now=NOW)
    assert refused.value.code == "oversized"
    with pytest.raises(Oversized):
        encode(_seal(ru, payload={"blob": "x" * MAX_ENVELOPE_BYTES}))


@pytest.mark.parametrize("raw", [
    b"not json", b"[1,2]", b"\xff\xfe", b'"a string"', b"[" * 100_000,
    b'{"sig":"AA==","sig":"AA=="}',  # duplicate keys could be read two ways
])
def test_malformed_json_is_refused(raw):
    with pytest.raises(Malformed) as refused:
        decode(raw, local_region="kz", now=NOW)
    assert refused.value.code == "malformed"


@pytest.mark.parametrize("field, value", [
    ("v", 2), ("v", True), ("seq", 0), ("seq", "1"), ("seq", True), ("seq", 1.5), ("seq", 2**53),
    ("created_at", -1), ("created_at", 1.5e12), ("id", "not-hex"), ("id", "A" * 32), ("stream", ""),
    ("stream", "has space"), ("stream", "x" * 257), ("kind", "Message"), ("kind", 7), ("payload", []),
    ("payload", "text"), ("key_id", "xyz"), ("origin", 7), ("destination", None),
])
def test_mistyped_fields_are_refused(ru, field, value):
    doc = {**_doc(encode(_seal(ru))), field: value}
    with pytest.raises(Malformed, match=field):
        decode(_raw(doc), local_region="kz", now=NOW)


def test_missing_and_unknown_fields_are_refused(ru):
    doc = _doc(encode(_seal(ru)))
    with pytest.raises(Malformed, match="missing stream"):
        decode(_raw({k: v for k, v in doc.items() if k != "stream"}), local_region="kz", now=NOW)
    with pytest.raises(Malformed, match="unknown extra"):
        decode(_raw({**doc, "extra": 1}), local_region="kz", now=NOW)


def test_nan_and_lone_surrogates_are_refused(ru):
    raw = encode(_seal(ru))
    with pytest.raises(Malformed):
        decode(raw.replace(b'"seq":41', b'"seq":NaN'), local_region="kz", now=NOW)
    with pytest.raises(Malformed):
        decode(raw.replace("привет".encode(), b"\\ud800"), local_region="kz", now=NOW)


def test_an_unknown_origin_is_refused(ru, kz_trust):
    doc = {**_doc(encode(_seal(ru))), "origin": "xx"}
    with pytest.raises(UnknownOrigin) as refused:
        decode(_raw(doc), local_region="kz", now=NOW)
    assert refused.value.code == "unknown_origin"


def test_a_known_region_without_a_pinned_key_is_an_unknown_origin(ru, keys):
    by_only = PeerKeys("kz", [PinnedKey("by", keys["by"].public_key())])

    with pytest.raises(UnknownOrigin, match="no key is pinned for 'ru'"):
        by_only.verify(decode(encode(_seal(ru)), local_region="kz", now=NOW))


def test_an_envelope_for_another_region_is_misrouted(ru):
    raw = encode(_seal(ru, destination="by"))

    with pytest.raises(Misrouted) as refused:
        decode(raw, local_region="kz", now=NOW)
    assert refused.value.code == "misrouted"
    assert decode(raw, local_region="by", now=NOW).destination == "by"


def test_an_envelope_to_its_own_origin_or_an_unknown_region_is_misrouted(ru):
    with pytest.raises(Misrouted):
        _seal(ru, destination="ru")
    doc = {**_doc(encode(_seal(ru))), "destination": "xx"}
    with pytest.raises(Misrouted):
        decode(_raw(doc), local_region="kz", now=NOW)


def test_a_clock_far_ahead_is_refused_but_an_old_backlog_is_not(ru, kz_trust):
    ahead = encode(_seal(ru, created_at=NOW + env.MAX_FUTURE_SKEW_MS + 1))
    within = encode(_seal(ru, created_at=NOW + env.MAX_FUTURE_SKEW_MS))
    day_old = encode(_seal(ru, created_at=NOW - 24 * 3600 * 1000))

    with pytest.raises(Skewed) as refused:
        decode(ahead, local_region="kz", now=NOW)
    assert refused.value.code == "skewed"
    assert _open(within, kz_trust).seq == 1
    assert _open(day_old, kz_trust).seq == 1  # after an outage the backlog still applies


def test_every_refusal_is_a_refused_with_its_stable_code():
    from svyaz.federation.errors import REFUSAL_CODES

    assert REFUSAL_CODES == ("unsigned", "forged", "unknown_key", "oversized", "malformed", "skewed",
                             "replayed", "unknown_origin", "misrouted", "gap", "not_permitted")
    assert issubclass(Unsigned, Refused)


def test_the_signer_takes_only_256_bit_keys_and_known_regions(keys):
    with pytest.raises(env.FederationConfigError):
        env.Signer("ru", PrivateKey.generate(Curve.TC26_512_A))
    with pytest.raises(env.FederationConfigError):
        env.Signer("xx", keys["ru"])
    assert "PRIVATE" not in repr(env.Signer("ru", keys["ru"]))
