"""Escrow under a region's `escrow` policy: message keys wrapped for the lawful-access key, whose
private half exists only as k-of-n officers' shares. Real OpenSSL GOST; no node."""

from __future__ import annotations

import itertools

import pytest

from svyaz.e2e import escrow, handshake
from svyaz.e2e.envelope import parse
from svyaz.e2e.errors import UndecryptableMessage
from svyaz.e2e.prekeys import DeviceKeys, check_bundle
from svyaz.e2e.session import open_escrowed
from svyaz.gost.keys import Curve, PrivateKey

CHAT = "sc/@alice:ru/@bob:ru/0123456789abcdef"


@pytest.fixture(scope="module")
def escrow_key() -> PrivateKey:
    return PrivateKey.generate(Curve.TC26_256_A)


def chat(escrow_public: bytes | None):
    bob_device = DeviceKeys.create(one_time=1)
    keys = check_bundle(bob_device.public_bundle(), max_one_time=1)
    alice = handshake.start(chat=CHAT, me="@alice:ru", peer="@bob:ru", identity=DeviceKeys.create(0).identity,
                            peer_keys=keys, escrow_key=escrow_public)
    return alice, bob_device


def test_the_subgroup_order_is_the_curves():
    gostsignature = pytest.importorskip("gostcrypto.gostsignature")
    curve = gostsignature.CURVES_R_1323565_1_024_2019["id-tc26-gost-3410-2012-256-paramSetA"]
    assert curve["q"] == escrow.SUBGROUP_ORDER


def test_any_two_of_three_shares_rebuild_the_key_and_one_does_not(escrow_key):
    shares = escrow.split(escrow_key, threshold=2, shares=3)
    for pair in itertools.permutations(shares, 2):
        assert escrow.combine(list(pair)).to_bytes() == escrow_key.to_bytes()
    with pytest.raises(escrow.EscrowError, match="needs 2"):
        escrow.combine(shares[:1])
    with pytest.raises(escrow.EscrowError, match="twice"):
        escrow.combine([shares[0], shares[0]])
    forged = escrow.Share(shares[1].key_id, 2, shares[1].x, (shares[1].y + 1) % escrow.SUBGROUP_ORDER)
    with pytest.raises(escrow.EscrowError, match="corrupted"):
        escrow.combine([shares[0], forged])
    other = escrow.split(PrivateKey.generate(Curve.TC26_256_A), threshold=2, shares=2)
    with pytest.raises(escrow.EscrowError, match="different escrow keys"):
        escrow.combine([shares[0], other[1]])
    assert escrow.Share.from_dict(shares[2].to_dict()) == shares[2]


def test_a_bad_threshold_is_refused(escrow_key):
    for threshold, count in ((1, 3), (4, 3), (2, 256)):
        with pytest.raises(escrow.EscrowError):
            escrow.split(escrow_key, threshold=threshold, shares=count)


def test_escrowed_messages_open_for_the_peer_and_for_the_rebuilt_escrow_key(escrow_key):
    alice, bob_device = chat(escrow_key.public_key().to_bytes())
    sealed = [alice.seal("first"), alice.seal("second")]
    bob = handshake.accept(chat=CHAT, me="@bob:ru", peer="@alice:ru", device=bob_device,
                           introduction=parse(sealed[0].envelope).introduction)
    assert [bob.open(parse(s.envelope), s.franking).text for s in sealed] == ["first", "second"]

    rebuilt = escrow.combine(escrow.split(escrow_key, threshold=2, shares=3)[1:])
    opened = [open_escrowed(parse(s.envelope), rebuilt, chat=CHAT, sender="@alice:ru", franking=s.franking)
              for s in sealed]
    assert [o.text for o in opened] == ["first", "second"]


def test_a_wrap_cannot_be_moved_or_altered(escrow_key):
    alice, bob_device = chat(escrow_key.public_key().to_bytes())
    first, second = alice.seal("first"), alice.seal("second")
    moved = parse(second.envelope).__class__(counter=1, body=parse(second.envelope).body,
                                             introduction=parse(second.envelope).introduction,
                                             escrow=parse(first.envelope).escrow)
    with pytest.raises(escrow.EscrowError, match="does not open"):
        open_escrowed(moved, escrow_key, chat=CHAT, sender="@alice:ru", franking=second.franking)
    with pytest.raises(escrow.EscrowError):
        open_escrowed(parse(first.envelope), escrow_key, chat=CHAT, sender="@bob:ru", franking=first.franking)
    # Bob sees the wrap in the associated data: a node that swaps it gets the message refused.
    bob = handshake.accept(chat=CHAT, me="@bob:ru", peer="@alice:ru", device=bob_device,
                           introduction=parse(first.envelope).introduction)
    tampered = bytearray(first.envelope)
    tampered[parse(first.envelope).header().index(parse(first.envelope).escrow) + 20] ^= 1
    with pytest.raises(UndecryptableMessage):
        bob.open(parse(bytes(tampered)), first.franking)


def test_a_strict_chat_has_no_wrap_to_open(escrow_key):
    alice, _ = chat(None)
    sealed = alice.seal("only for bob")
    assert parse(sealed.envelope).escrow is None
    with pytest.raises(escrow.EscrowError, match="strict"):
        open_escrowed(parse(sealed.envelope), escrow_key, chat=CHAT, sender="@alice:ru", franking=sealed.franking)


def test_another_escrow_key_cannot_open_the_wrap(escrow_key):
    alice, _ = chat(escrow_key.public_key().to_bytes())
    sealed = alice.seal("hello")
    with pytest.raises(escrow.EscrowError, match="another escrow key"):
        open_escrowed(parse(sealed.envelope), PrivateKey.generate(Curve.TC26_256_A), chat=CHAT,
                      sender="@alice:ru", franking=sealed.franking)


def test_escrow_keygen_writes_the_public_key_and_one_private_share_per_officer(tmp_path):
    import json
    import stat

    from svyaz.client.secret_cli import write_escrow_key
    from svyaz.errors import SvyazError
    from svyaz.gost.keys import PublicKey

    written = write_escrow_key(tmp_path / "kz", "kz", ["@o1:kz", "@o2:kz", "@o3:kz"], 2)
    public = PublicKey.from_pem((tmp_path / "kz" / "escrow-kz.pub.pem").read_bytes())
    paths = [tmp_path / "kz" / name for name in sorted(p.name for p in (tmp_path / "kz").glob("*share*"))]
    shares = [escrow.Share.from_dict(json.loads(path.read_text())) for path in paths]

    assert written["key_id"] == escrow.key_id(public) and set(written["shares"]) == {"@o1:kz", "@o2:kz", "@o3:kz"}
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in paths)
    assert escrow.combine(shares[1:]).public_key() == public
    assert not list((tmp_path / "kz").glob("*private*"))  # the whole key is never written
    with pytest.raises(SvyazError, match="exists"):
        write_escrow_key(tmp_path / "kz", "kz", ["@o1:kz", "@o2:kz"], 2)
    with pytest.raises(SvyazError, match="named twice"):
        write_escrow_key(tmp_path / "other", "kz", ["@o1:kz", "@o1:kz"], 2)
