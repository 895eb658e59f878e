"""policies/secret-chats.toml: what a region's node enforces on sealed messages, and the clear
errors a wrong file gets at start-up (real OpenSSL for the escrow key; no stack)."""

from __future__ import annotations

import pytest

from svyaz.e2e import escrow
from svyaz.gost.keys import Curve, PrivateKey
from svyaz.messaging.errors import InvalidMessage
from svyaz.messaging.secret_policy import ESCROW, STRICT, PolicyError, SecretChatPolicy
from svyaz.node.config import DEFAULT_POLICY_DIR
from svyaz.node.secret_policy import load_secret_policy


def write(tmp_path, text: str, key: PrivateKey | None = None):
    (tmp_path / "secret-chats.toml").write_text(text)
    if key is not None:
        (tmp_path / "escrow.pub.pem").write_bytes(key.public_key().to_pem())
    return tmp_path


def test_the_shipped_policy_is_strict_in_every_region():
    for region in ("ru", "by", "kz"):
        assert load_secret_policy(DEFAULT_POLICY_DIR, region) == SecretChatPolicy(mode=STRICT)


def test_an_escrow_region_demands_a_wrap_for_its_current_key(tmp_path):
    key, other = PrivateKey.generate(Curve.TC26_256_A), PrivateKey.generate(Curve.TC26_256_A)
    policy = load_secret_policy(write(tmp_path, '[kz]\nmode = "escrow"\nescrow_key = "escrow.pub.pem"\n', key), "kz")
    wrap = escrow.wrap(bytes(32), key.public_key(), context=b"c")

    assert policy.mode == ESCROW and policy.as_wire()["escrow_key_id"] == escrow.key_id(key.public_key())
    policy.check_escrow(wrap)
    for bad, says in ((None, "lawful-access copy"), (escrow.wrap(bytes(32), other.public_key(), context=b"c"),
                                                      "another escrow key"), (wrap[:-1], "escrow wrap is")):
        with pytest.raises(InvalidMessage, match=says):
            policy.check_escrow(bad)
    assert load_secret_policy(tmp_path, "ru").mode == STRICT  # a region without a table is strict


def test_a_strict_region_refuses_a_wrap():
    with pytest.raises(InvalidMessage, match="strict"):
        SecretChatPolicy().check_escrow(escrow.wrap(bytes(32), PrivateKey.generate(Curve.TC26_256_A).public_key(),
                                                    context=b"c"))


@pytest.mark.parametrize(("text", "says"), [
    ('[kz]\nmode = "lenient"\n', "mode must be"),
    ('[kz]\nmode = "escrow"\n', "needs escrow_key"),
    ('[kz]\nmode = "escrow"\nescrow_key = "missing.pem"\n', "cannot read the escrow key"),
    ('[kz]\nmode = "escrow"\nescrow_key = "secret-chats.toml"\n', "not a GOST public key"),
    ("[kz\n", "not valid TOML"),
])
def test_a_wrong_policy_file_stops_the_node_with_the_reason(tmp_path, text, says):
    with pytest.raises(PolicyError, match=says):
        load_secret_policy(write(tmp_path, text), "kz")
