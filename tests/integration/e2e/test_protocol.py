"""The secret-chat protocol end to end between two devices, on real OpenSSL GOST (no node):
set-up from a published bundle, sealed messages both ways, out of order, replays, tampering,
bad bundles and safety numbers. Every failure must be an error that changes nothing."""

from __future__ import annotations

import dataclasses

import pytest

from svyaz.e2e import handshake
from svyaz.e2e.envelope import parse
from svyaz.e2e.errors import BadBundle, MalformedEnvelope, ReplayedMessage, UndecryptableMessage
from svyaz.e2e.franking import commitment, is_genuine
from svyaz.e2e.prekeys import DeviceKeys, b64, check_bundle
from svyaz.e2e.ratchet import MAX_SKIPPED
from svyaz.e2e.safety import safety_number
from svyaz.e2e.session import Session

CHAT = "sc/@alice:ru/@bob:ru/0123456789abcdef"


def claimed(device: DeviceKeys, *, with_one_time: bool = True) -> dict:
    """What keys.claim hands out: the bundle with the first one-time prekey (or none)."""
    bundle = device.public_bundle()
    bundle["one_time_prekeys"] = bundle["one_time_prekeys"][:1] if with_one_time else []
    return bundle


@pytest.fixture
def bob_device() -> DeviceKeys:
    return DeviceKeys.create(one_time=3)


@pytest.fixture
def alice_identity() -> DeviceKeys:
    return DeviceKeys.create(one_time=0)


def start(alice: DeviceKeys, bob: DeviceKeys, *, with_one_time: bool = True) -> Session:
    keys = check_bundle(claimed(bob, with_one_time=with_one_time), max_one_time=1)
    return handshake.start(chat=CHAT, me="@alice:ru", peer="@bob:ru", identity=alice.identity, peer_keys=keys)


def accept(bob: DeviceKeys, sealed_envelope: bytes) -> Session:
    return handshake.accept(chat=CHAT, me="@bob:ru", peer="@alice:ru", device=bob,
                            introduction=parse(sealed_envelope).introduction)


@pytest.mark.parametrize("with_one_time", [True, False], ids=["one-time prekey", "none left"])
def test_two_devices_talk_both_ways(alice_identity, bob_device, with_one_time):
    alice = start(alice_identity, bob_device, with_one_time=with_one_time)
    first, second = alice.seal("привет, Боб"), alice.seal("second")
    bob = accept(bob_device, first.envelope)

    assert bob.open(parse(first.envelope), first.franking).text == "привет, Боб"
    assert bob.open(parse(second.envelope), second.franking).text == "second"
    reply = bob.seal("hi Alice")
    assert parse(reply.envelope).introduction is None
    assert alice.open(parse(reply.envelope), reply.franking).text == "hi Alice"
    # Once Alice has heard back she stops introducing herself.
    assert parse(alice.seal("third").envelope).introduction is None


def test_the_one_time_prekey_is_spent_and_a_replayed_start_is_refused(alice_identity, bob_device):
    alice = start(alice_identity, bob_device)
    first = alice.seal("hello")
    held = len(bob_device.one_time)
    accept(bob_device, first.envelope)
    assert len(bob_device.one_time) == held - 1
    with pytest.raises(UndecryptableMessage, match="used already"):
        accept(bob_device, first.envelope)


def test_messages_open_out_of_order_and_never_twice(alice_identity, bob_device):
    alice = start(alice_identity, bob_device)
    sealed = [alice.seal(f"m{n}") for n in range(5)]
    bob = accept(bob_device, sealed[0].envelope)

    for n in (4, 1, 0, 3, 2):
        assert bob.open(parse(sealed[n].envelope), sealed[n].franking).text == f"m{n}"
    for n in (0, 4):
        with pytest.raises(ReplayedMessage):
            bob.open(parse(sealed[n].envelope), sealed[n].franking)


def test_a_counter_too_far_ahead_is_refused_and_moves_nothing(alice_identity, bob_device):
    alice = start(alice_identity, bob_device)
    first = alice.seal("first")
    bob = accept(bob_device, first.envelope)
    forged = dataclasses.replace(parse(first.envelope), counter=MAX_SKIPPED + 5)
    before = bob.receiving
    with pytest.raises(UndecryptableMessage, match="ahead"):
        bob.open(forged, first.franking)
    assert bob.receiving == before
    assert bob.open(parse(first.envelope), first.franking).text == "first"


@pytest.mark.parametrize("part", ["header", "ciphertext", "tag", "franking", "sender"])
def test_any_tampering_is_refused_and_the_session_stays_usable(alice_identity, bob_device, part):
    alice = start(alice_identity, bob_device)
    first = alice.seal("pay 100 to Bob")
    bob = accept(bob_device, first.envelope)
    envelope, franking = bytearray(first.envelope), bytearray(first.franking)
    if part == "header":
        envelope[5] ^= 1          # the counter
    elif part == "ciphertext":
        envelope[-20] ^= 1
    elif part == "tag":
        envelope[-1] ^= 1
    elif part == "franking":
        franking[0] ^= 1
    if part == "sender":          # the node claiming Bob's own message came from Alice
        bob_reply = bob.seal("from bob")
        with pytest.raises(UndecryptableMessage):
            bob.open(parse(bob_reply.envelope), bob_reply.franking)
    else:
        with pytest.raises((UndecryptableMessage, MalformedEnvelope)):
            bob.open(parse(bytes(envelope)), bytes(franking))
    assert bob.open(parse(first.envelope), first.franking).text == "pay 100 to Bob"


def test_a_message_moved_to_another_chat_does_not_open(alice_identity, bob_device):
    alice = start(alice_identity, bob_device)
    first = alice.seal("for this chat only")
    bob = accept(bob_device, first.envelope)
    elsewhere = Session.from_dict({**bob.to_dict(), "chat": "sc/@alice:ru/@bob:ru/fedcba9876543210"})
    with pytest.raises(UndecryptableMessage):
        elsewhere.open(parse(first.envelope), first.franking)


@pytest.mark.parametrize("raw", [b"", b"\x01", b"\x02\x02" + bytes(40), b"\x01\x07" + bytes(40),
                                 b"\x01\x01" + bytes(30)], ids=["empty", "short", "version", "kind", "cut"])
def test_malformed_envelopes_are_refused_clearly(raw):
    with pytest.raises(MalformedEnvelope):
        parse(raw)


def test_the_session_survives_a_round_trip_through_the_vault_format(alice_identity, bob_device):
    alice = start(alice_identity, bob_device)
    first = alice.seal("one")
    alice = Session.from_dict(alice.to_dict())
    second = alice.seal("two")
    bob = Session.from_dict(accept(bob_device, first.envelope).to_dict())
    assert bob.open(parse(second.envelope), second.franking).text == "two"
    bob = Session.from_dict(bob.to_dict())
    assert bob.open(parse(first.envelope), first.franking).text == "one"
    restored = DeviceKeys.from_dict(bob_device.to_dict())
    assert restored.public_bundle() != {} and restored.to_dict() == bob_device.to_dict()


def test_bundles_are_checked(bob_device):
    good = bob_device.public_bundle()
    other = DeviceKeys.create(one_time=0)
    unsigned = {**good, "signed_prekey": {**good["signed_prekey"], "key": other.public_bundle()["signed_prekey"]["key"]}}
    off_curve = {**good, "identity_key": b64(b"\x01" * 64)}
    with pytest.raises(BadBundle, match="not signed"):
        check_bundle(unsigned)
    with pytest.raises(BadBundle, match="not a valid"):
        check_bundle(off_curve)
    with pytest.raises(BadBundle, match="base64"):
        check_bundle({**good, "identity_key": "not base64!"})
    with pytest.raises(BadBundle, match="at most 1"):
        check_bundle(good, max_one_time=1)
    assert check_bundle(good).signed_prekey_id == 1


def test_safety_numbers_match_on_both_sides_and_change_with_a_key(alice_identity, bob_device):
    alice = start(alice_identity, bob_device)
    first = alice.seal("hello")
    bob = accept(bob_device, first.envelope)
    on_alice = safety_number((alice.me, alice.my_identity_key), (alice.peer, alice.peer_identity_key))
    on_bob = safety_number((bob.me, bob.my_identity_key), (bob.peer, bob.peer_identity_key))
    impostor = DeviceKeys.create(one_time=0).identity.public_key().to_bytes()
    assert on_alice == on_bob
    assert len(on_alice.replace(" ", "")) == 60 and on_alice.replace(" ", "").isdigit()
    assert safety_number((alice.me, alice.my_identity_key), (alice.peer, impostor)) != on_alice


def test_franking_proves_the_text_and_nothing_forged():
    key = bytes(range(32))
    stored = commitment(key, chat=CHAT, sender="@alice:ru", text="abuse")
    assert is_genuine(stored, key, chat=CHAT, sender="@alice:ru", text="abuse")
    assert not is_genuine(stored, key, chat=CHAT, sender="@alice:ru", text="something else")
    assert not is_genuine(stored, key, chat=CHAT, sender="@bob:ru", text="abuse")
    assert not is_genuine(stored, bytes(32), chat=CHAT, sender="@alice:ru", text="abuse")
    assert not is_genuine(stored, key[:16], chat=CHAT, sender="@alice:ru", text="abuse")
