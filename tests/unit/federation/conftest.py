"""Keys for the federation tests: real GOST keys, made once per session (key generation is the
slow part, ~60 ms each)."""

from __future__ import annotations

import pytest

from svyaz.federation.envelope import Signer
from svyaz.federation.trust import PeerKeys, PinnedKey
from svyaz.gost.keys import Curve, PrivateKey

NOW = 1_718_000_000_000  # a fixed "now" in Unix milliseconds


@pytest.fixture(scope="session")
def keys() -> dict[str, PrivateKey]:
    return {name: PrivateKey.generate(Curve.CRYPTOPRO_256_A) for name in ("ru", "ru-next", "by", "kz", "mallory")}


@pytest.fixture(scope="session")
def ru(keys) -> Signer:
    return Signer("ru", keys["ru"])


@pytest.fixture(scope="session")
def by(keys) -> Signer:
    return Signer("by", keys["by"])


@pytest.fixture(scope="session")
def kz_trust(keys) -> PeerKeys:
    """What kz pins: ru's and by's current keys."""
    return PeerKeys("kz", [PinnedKey("ru", keys["ru"].public_key()), PinnedKey("by", keys["by"].public_key())])
