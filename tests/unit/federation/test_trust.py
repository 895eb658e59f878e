"""Pinned peer keys: loading them from configuration, and rotation with two pinned keys."""

from __future__ import annotations

import pytest

from svyaz.federation.envelope import Signer, decode, encode
from svyaz.federation.errors import FederationConfigError, UnknownKey
from svyaz.federation.trust import PeerKeys, PinnedKey, load_peer_keys
from svyaz.gost.keys import Curve, PrivateKey

from tests.unit.federation.conftest import NOW


def _record(signer: Signer, seq: int = 1) -> bytes:
    return encode(signer.seal(destination="kz", stream="g/ru/0123456789abcdef", seq=seq, kind="message.created",
                              payload={}, created_at=NOW))


def _verify(trust: PeerKeys, raw: bytes):
    return trust.verify(decode(raw, local_region="kz", now=NOW))


def test_rotation_accepts_both_pinned_keys_then_only_the_new_one(keys):
    old, new = Signer("ru", keys["ru"]), Signer("ru", keys["ru-next"])
    during = PeerKeys("kz", [PinnedKey("ru", keys["ru"].public_key()), PinnedKey("ru", keys["ru-next"].public_key())])
    after = PeerKeys("kz", [PinnedKey("ru", keys["ru-next"].public_key())])

    assert _verify(during, _record(old)).seq == 1
    assert _verify(during, _record(new, 2)).seq == 2
    assert set(during.key_ids("ru")) == {old.key_id, new.key_id}
    assert _verify(after, _record(new)).seq == 1
    with pytest.raises(UnknownKey, match="not pinned here") as refused:
        _verify(after, _record(old))
    assert "rotated" in refused.value.hint


def test_a_valid_signature_by_another_regions_key_is_not_accepted_as_that_region(keys):
    # by's own key, with ru's name on the envelope: the key id is by's, which is not pinned for ru.
    impostor = Signer("ru", keys["by"])
    trust = PeerKeys("kz", [PinnedKey("ru", keys["ru"].public_key()), PinnedKey("by", keys["by"].public_key())])

    with pytest.raises(UnknownKey):
        _verify(trust, _record(impostor))


def test_peer_keys_load_from_pem_files_and_inline_pems(keys, tmp_path):
    path = tmp_path / "ru.pub.pem"
    path.write_bytes(keys["ru"].public_key().to_pem())

    trust = load_peer_keys("kz", {"ru": [str(path), keys["ru-next"].public_key().to_pem().decode()],
                                  "by": keys["by"].public_key().to_pem().decode()})

    assert trust.peers == {"ru", "by"}
    assert trust.key_ids("ru") == (keys["ru"].public_key().fingerprint(), keys["ru-next"].public_key().fingerprint())
    assert _verify(trust, _record(Signer("ru", keys["ru"]))).origin == "ru"


@pytest.mark.parametrize("peers, message", [
    ({"xx": ["pem"]}, r"federation.peers.xx: unknown region"),
    ({"ru": []}, r"federation.peers.ru: expected a non-empty list"),
    ({"ru": ["/nonexistent/ru.pem"]}, r"federation.peers.ru\[0\]: cannot read"),
    ({"ru": ["-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----\n"]}, r"federation.peers.ru\[0\]: not a GOST"),
    ({"ru": [7]}, r"federation.peers.ru\[0\]: expected a PEM path"),
])
def test_bad_peer_configuration_names_the_key(peers, message):
    with pytest.raises(FederationConfigError, match=message):
        load_peer_keys("kz", peers)


def test_pinning_rules(keys):
    ru_key = keys["ru"].public_key()
    with pytest.raises(FederationConfigError, match="own region"):
        PeerKeys("ru", [PinnedKey("ru", ru_key)])
    with pytest.raises(FederationConfigError, match="pinned twice"):
        PeerKeys("kz", [PinnedKey("ru", ru_key), PinnedKey("ru", ru_key)])
    with pytest.raises(FederationConfigError, match="256-bit"):
        PeerKeys("kz", [PinnedKey("ru", PrivateKey.generate(Curve.TC26_512_A).public_key())])
