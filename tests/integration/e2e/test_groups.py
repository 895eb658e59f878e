"""Small-group secret chats by sender keys, on real OpenSSL GOST (no node): three members talk,
each key handed out over a 1:1 session as a control message; forgery by a member, tampering and
replays are refused; a removed member cannot open what follows, a late joiner what came before;
escrow opens group messages too."""

from __future__ import annotations

import pytest

from svyaz.e2e import escrow, group, handshake
from svyaz.e2e.envelope import SENDER_KEY, TEXT, parse
from svyaz.e2e.errors import MalformedEnvelope, ReplayedMessage, UndecryptableMessage
from svyaz.e2e.franking import is_genuine
from svyaz.e2e.group import (
    Distribution,
    ForgedMessage,
    NoSenderKey,
    PeerSenderKey,
    SenderKey,
    open_escrowed,
    plan,
)
from svyaz.e2e.prekeys import DeviceKeys, check_bundle
from svyaz.e2e.ratchet import SendingChain
from svyaz.gost.keys import Curve, PrivateKey

GROUP = "g/ru/0123456789abcdef"
ALICE, BOB, CAROL, DAVE = "@alice:ru", "@bob:ru", "@carol:ru", "@dave:ru"


class Member:
    """One member's device: its sender key and the others' keys, as the client keeps them."""

    def __init__(self, me: str, escrow_key: bytes | None = None) -> None:
        self.me = me
        self.key = SenderKey.create(group=GROUP, me=me, escrow_key=escrow_key)
        self.peers: dict[tuple[str, int], PeerSenderKey] = {}

    def take(self, sender: str, distribution: Distribution) -> None:
        self.peers[(sender, distribution.key_id)] = PeerSenderKey.received(distribution, sender=sender)

    def open(self, sender: str, sealed) -> str:
        envelope = group.parse(sealed.envelope)
        peer = self.peers.get((sender, envelope.key_id))
        if peer is None:
            raise NoSenderKey("no such sender key")
        return peer.open(envelope, sealed.franking).text


def hand_out(owner: Member, *others: Member) -> None:
    for other in others:
        other.take(owner.me, owner.key.distribution())


@pytest.fixture
def trio_of_members() -> tuple[Member, Member, Member]:
    alice, bob, carol = Member(ALICE), Member(BOB), Member(CAROL)
    for member in (alice, bob, carol):
        hand_out(member, *(m for m in (alice, bob, carol) if m is not member))
    return alice, bob, carol


def test_the_sender_key_travels_as_a_control_message_inside_a_1to1_session():
    bob_device = DeviceKeys.create(one_time=1)
    chat = "sc/@alice:ru/@bob:ru/0123456789abcdef"
    alice_session = handshake.start(chat=chat, me=ALICE, peer=BOB, identity=DeviceKeys.create(0).identity,
                                    peer_keys=check_bundle(bob_device.public_bundle(), max_one_time=1))
    key = SenderKey.create(group=GROUP, me=ALICE)
    sealed = alice_session.seal_control(SENDER_KEY, key.distribution().to_bytes())
    text = alice_session.seal("a plain text after it")
    bob_session = handshake.accept(chat=chat, me=BOB, peer=ALICE, device=bob_device,
                                   introduction=parse(sealed.envelope).introduction)

    opened = bob_session.open(parse(sealed.envelope), sealed.franking)
    assert opened.kind == SENDER_KEY and opened.text == "" and not opened.is_text
    assert Distribution.from_bytes(opened.control) == key.distribution()
    assert bob_session.open(parse(text.envelope), text.franking).kind == TEXT
    with pytest.raises(ValueError):
        alice_session.seal_control(TEXT, b"")
    with pytest.raises(MalformedEnvelope):
        Distribution.from_bytes(b"\x01" + bytes(10))


def test_three_members_talk(trio_of_members):
    alice, bob, carol = trio_of_members
    hello = alice.key.seal("всем привет")
    reply = bob.key.seal("hi Alice")
    assert bob.open(ALICE, hello) == carol.open(ALICE, hello) == "всем привет"
    assert alice.open(BOB, reply) == carol.open(BOB, reply) == "hi Alice"
    later = [carol.key.seal(f"c{n}") for n in range(3)]
    assert [alice.open(CAROL, s) for s in reversed(later)] == ["c2", "c1", "c0"]  # out of order is fine
    # What the node stores: the commitment reveals nothing, yet the recipient can report with it.
    opened = group.parse(hello.envelope)
    assert b"\xd0\xb2\xd1\x81\xd0\xb5\xd0\xbc" not in hello.envelope and opened.key_id == alice.key.key_id


def test_a_member_cannot_forge_another_members_message(trio_of_members):
    alice, bob, carol = trio_of_members
    # Bob holds Alice's chain key, so he can make a message that AEAD-opens under her key, but he
    # cannot sign it as Alice: he signs with his own key, or with a fresh one.
    held = bob.peers[(ALICE, alice.key.key_id)].chain
    stolen = SenderKey(group=GROUP, me=ALICE, key_id=alice.key.key_id, chain=SendingChain(held.chain_key, held.counter),
                       signing=bob.key.signing)
    forged = stolen.seal("Alice says: send Bob the money")
    with pytest.raises(ForgedMessage, match="signature"):
        carol.open(ALICE, forged)
    # Carol's view of Alice's chain did not move: Alice's real message at that counter still opens.
    assert carol.open(ALICE, alice.key.seal("the real one")) == "the real one"
    # And a node re-labelling Bob's own message as Alice's gets nowhere either.
    with pytest.raises(NoSenderKey):
        carol.open(ALICE, bob.key.seal("from Bob"))


@pytest.mark.parametrize("part", ["key id", "counter", "ciphertext", "tag", "signature", "franking", "group"])
def test_tampering_is_refused_and_changes_nothing(trio_of_members, part):
    alice, bob, _ = trio_of_members
    sealed = alice.key.seal("meet at 7")
    raw, franking = bytearray(sealed.envelope), bytearray(sealed.franking)
    offsets = {"key id": 3, "counter": 9, "ciphertext": -100, "tag": -65, "signature": -1}
    if part in offsets:
        raw[offsets[part]] ^= 1
    elif part == "franking":
        franking[0] ^= 1
    peer = bob.peers[(ALICE, alice.key.key_id)]
    before = peer.chain
    if part == "group":
        moved = PeerSenderKey.from_dict({**peer.to_dict(), "group": "g/ru/fedcba9876543210"})
        with pytest.raises(ForgedMessage):
            moved.open(group.parse(sealed.envelope), sealed.franking)
    else:
        with pytest.raises((UndecryptableMessage, NoSenderKey)):
            bob.open(ALICE, type(sealed)(envelope=bytes(raw), franking=bytes(franking)))
    assert peer.chain == before
    assert bob.open(ALICE, sealed) == "meet at 7"


def test_a_replay_is_refused(trio_of_members):
    alice, bob, _ = trio_of_members
    sealed = alice.key.seal("once")
    assert bob.open(ALICE, sealed) == "once"
    with pytest.raises(ReplayedMessage):
        bob.open(ALICE, sealed)


@pytest.mark.parametrize("raw", [b"", b"\x01\x03" + bytes(60), b"\x02\x03" + bytes(120), b"\x01\x02" + bytes(120),
                                 b"\x01\x83" + bytes(120)], ids=["empty", "short", "version", "1:1 kind", "cut wrap"])
def test_malformed_group_envelopes_are_refused_clearly(raw):
    with pytest.raises(MalformedEnvelope):
        group.parse(raw)


def test_a_1to1_reader_refuses_a_group_envelope(trio_of_members):
    with pytest.raises(MalformedEnvelope, match="group message"):
        parse(trio_of_members[0].key.seal("x").envelope)


def test_after_a_removal_the_removed_member_cannot_open_new_messages(trio_of_members):
    alice, bob, carol = trio_of_members
    assert plan(me=ALICE, members=[ALICE, BOB, CAROL], given_to=[BOB, CAROL]) == group.Plan(False, ())
    decision = plan(me=ALICE, members=[ALICE, BOB], given_to=[BOB, CAROL])   # Carol was removed
    assert decision == group.Plan(new_key=True, send_to=(BOB,))
    old_id = alice.key.key_id
    alice.key = SenderKey.create(group=GROUP, me=ALICE, avoid=[old_id])
    hand_out(alice, bob)
    after = alice.key.seal("Carol is gone")
    assert bob.open(ALICE, after) == "Carol is gone"
    with pytest.raises(NoSenderKey):
        carol.open(ALICE, after)
    # Even given the message, Carol's old chain cannot open it: the key id differs, and so does the chain.
    stale = carol.peers[(ALICE, old_id)]
    with pytest.raises(UndecryptableMessage):
        stale.open(group.GroupEnvelope(**{**group.parse(after.envelope).__dict__, "key_id": old_id}), after.franking)


def test_a_late_joiner_cannot_open_earlier_messages(trio_of_members):
    alice, bob, _ = trio_of_members
    before = [alice.key.seal("before Dave 1"), alice.key.seal("before Dave 2")]
    dave = Member(DAVE)
    assert plan(me=ALICE, members=[ALICE, BOB, CAROL, DAVE], given_to=[BOB, CAROL]) == group.Plan(False, (DAVE,))
    hand_out(alice, dave)
    after = alice.key.seal("welcome Dave")
    assert dave.open(ALICE, after) == "welcome Dave"
    for sealed in before:
        with pytest.raises(ReplayedMessage):   # the counter is behind the chain Dave was given
            dave.open(ALICE, sealed)
    assert [bob.open(ALICE, s) for s in (*before, after)] == ["before Dave 1", "before Dave 2", "welcome Dave"]


def test_escrow_wraps_group_message_keys_and_the_rebuilt_key_opens_them():
    escrow_key = PrivateKey.generate(Curve.TC26_256_A)
    alice = Member(ALICE, escrow_key=escrow_key.public_key().to_bytes())
    bob = Member(BOB)
    hand_out(alice, bob)
    sealed = alice.key.seal("escrowed group hello")
    envelope = group.parse(sealed.envelope)
    assert envelope.escrow is not None and escrow.wrapped_key_id(envelope.escrow) == escrow.key_id(escrow_key.public_key())
    assert bob.open(ALICE, sealed) == "escrowed group hello"
    rebuilt = escrow.combine(escrow.split(escrow_key, threshold=2, shares=3)[1:])
    opened = open_escrowed(envelope, rebuilt, group=GROUP, sender=ALICE, franking=sealed.franking)
    assert opened.text == "escrowed group hello"
    # The wrap is bound to this group, sender, key id and counter.
    with pytest.raises(escrow.EscrowError):
        open_escrowed(envelope, rebuilt, group=GROUP, sender=BOB, franking=sealed.franking)
    with pytest.raises(escrow.EscrowError, match="strict"):
        open_escrowed(group.parse(bob.key.seal("no wrap").envelope), rebuilt, group=GROUP, sender=BOB,
                      franking=sealed.franking)


def test_franking_works_for_group_messages_and_state_survives_the_vault_format(trio_of_members):
    alice, bob, _ = trio_of_members
    sealed = alice.key.seal("report me")
    peer = PeerSenderKey.from_dict(bob.peers[(ALICE, alice.key.key_id)].to_dict())
    opened = peer.open(group.parse(sealed.envelope), sealed.franking)
    assert is_genuine(sealed.franking, opened.franking_key, chat=GROUP, sender=ALICE, text="report me")
    assert not is_genuine(sealed.franking, opened.franking_key, chat=GROUP, sender=ALICE, text="something else")
    restored = SenderKey.from_dict(alice.key.to_dict())
    assert restored.distribution() == alice.key.distribution()
    assert bob.open(ALICE, restored.seal("after restore")) == "after restore"
