"""Access tokens (HMAC-Streebog-256, key rotation, expiry) and refresh-token families (RFC 9700 §4.14)."""

from __future__ import annotations

import base64
import hmac
import json
from dataclasses import replace

import pytest

from svyaz.identity.errors import RefreshExpired, RefreshReuse, SessionRevoked, TokenExpired, TokenInvalid
from svyaz.identity.tokens import (
    AccessGrant,
    Keyring,
    RefreshPolicy,
    SigningKey,
    hash_refresh_token,
    issue_access_token,
    new_session_id,
    new_signing_key,
    refresh_token_family,
    rotate_refresh,
    start_refresh_family,
    verify_access_token,
)

NOW = 1_700_000_000.0
KEY = SigningKey("k1", b"\x01" * 32)
KEYRING = Keyring("k1", {"k1": KEY.secret})
GRANT = AccessGrant(sub="@alice:ru", sid="s" * 22)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signed_with_key(claims) -> str:
    """A token with exactly these claims, correctly signed: what only the key holder could make."""
    payload = b64(json.dumps(claims, sort_keys=True, separators=(",", ":")).encode())
    mac = b64(hmac.new(KEY.secret, f"v1.k1.{payload}".encode(), "md_gost12_256").digest())
    return f"v1.k1.{payload}.{mac}"


def test_an_issued_token_verifies_to_its_claims():
    token = issue_access_token(KEY, GRANT, NOW)
    claims = verify_access_token(KEYRING, token, NOW + 10)

    assert (claims.sub, claims.sid) == ("@alice:ru", "s" * 22)
    assert (claims.iat, claims.exp) == (int(NOW), int(NOW) + 300)
    assert len(claims.jti) >= 16


def test_the_token_is_version_kid_canonical_claims_and_a_streebog_mac():
    token = issue_access_token(KEY, GRANT, NOW, lifetime_s=60)
    version, kid, payload, mac = token.split(".")

    assert (version, kid) == ("v1", "k1")
    raw = unb64(payload)
    claims = json.loads(raw)
    assert raw == json.dumps(claims, sort_keys=True, separators=(",", ":")).encode()
    assert set(claims) == {"sub", "sid", "amr", "iat", "exp", "jti"}  # no roles: svyaz.rbac holds those
    assert claims["amr"] == ["pwd"]
    assert claims["exp"] - claims["iat"] == 60
    assert len(unb64(mac)) == 32


def test_each_token_has_its_own_id():
    assert issue_access_token(KEY, GRANT, NOW) != issue_access_token(KEY, GRANT, NOW)


def test_an_expired_token_is_refused_as_expired():
    token = issue_access_token(KEY, GRANT, NOW)
    verify_access_token(KEYRING, token, NOW + 299)
    with pytest.raises(TokenExpired):
        verify_access_token(KEYRING, token, NOW + 300)


def test_a_token_from_the_future_is_invalid_unless_within_leeway():
    token = issue_access_token(KEY, GRANT, NOW + 20)
    with pytest.raises(TokenInvalid, match="future"):
        verify_access_token(KEYRING, token, NOW)
    verify_access_token(KEYRING, token, NOW, leeway_s=30)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda claims: claims.update(sub="@root:ru"),  # someone else's account
        lambda claims: claims.update(exp=claims["exp"] + 86400),  # a longer life
        lambda claims: claims.update(roles=["admin"]),  # roles smuggled in
    ],
    ids=["sub", "exp", "added-roles"],
)
def test_changed_claims_break_the_mac(tamper):
    version, kid, payload, mac = issue_access_token(KEY, GRANT, NOW).split(".")
    claims = json.loads(unb64(payload))
    tamper(claims)
    forged = ".".join([version, kid, b64(json.dumps(claims, sort_keys=True, separators=(",", ":")).encode()), mac])

    with pytest.raises(TokenInvalid, match="signature"):
        verify_access_token(KEYRING, forged, NOW)


def test_a_correctly_signed_token_with_a_roles_claim_is_still_refused():
    # The old claim shape: even a genuine key holder cannot make a token that carries roles.
    claims = {"sub": "@alice:ru", "sid": "s" * 22, "amr": ["pwd"], "roles": ["admin"], "iat": int(NOW),
              "exp": int(NOW) + 60, "jti": "j" * 16}
    with pytest.raises(TokenInvalid, match="claims are malformed"):
        verify_access_token(KEYRING, signed_with_key(claims), NOW)
    del claims["roles"]
    assert verify_access_token(KEYRING, signed_with_key(claims), NOW).sub == "@alice:ru"


def test_the_sign_in_methods_travel_in_the_token_and_cannot_be_made_up():
    token = issue_access_token(KEY, AccessGrant(sub="@alice:ru", sid="s" * 22, amr=("pwd", "otp")), NOW)
    assert verify_access_token(KEYRING, token, NOW).amr == ("otp", "pwd")
    for amr in ([], ["pwd", "fingerprint"], "otp", [1]):
        claims = {"sub": "@alice:ru", "sid": "s" * 22, "amr": amr, "iat": int(NOW), "exp": int(NOW) + 60,
                  "jti": "j" * 16}
        with pytest.raises(TokenInvalid, match="malformed"):
            verify_access_token(KEYRING, signed_with_key(claims), NOW)


def test_a_token_signed_with_another_key_is_invalid():
    token = issue_access_token(SigningKey("k1", b"\x02" * 32), GRANT, NOW)
    with pytest.raises(TokenInvalid, match="signature"):
        verify_access_token(KEYRING, token, NOW)


def test_key_rotation_keeps_old_tokens_valid_while_the_old_key_is_in_the_ring():
    old_token = issue_access_token(KEY, GRANT, NOW)
    rotated = Keyring("k2", {"k1": KEY.secret, "k2": b"\x03" * 32})
    new_token = issue_access_token(rotated.signing_key, GRANT, NOW)

    assert new_token.split(".")[1] == "k2"
    assert verify_access_token(rotated, old_token, NOW).sub == "@alice:ru"
    assert verify_access_token(rotated, new_token, NOW).sub == "@alice:ru"
    with pytest.raises(TokenInvalid, match="key this node does not know"):
        verify_access_token(Keyring("k2", {"k2": b"\x03" * 32}), old_token, NOW)


def test_a_plain_mapping_works_as_a_keyring():
    assert verify_access_token({"k1": KEY.secret}, issue_access_token(KEY, GRANT, NOW), NOW).sid == GRANT.sid


@pytest.mark.parametrize(
    "token",
    ["", "v1", "v1.k1.abc", "v2.k1.abc.def", "v1.k1.abc.def.ghi", "v1.k1.ab+c.def", "v1.k1.abc.d=f", "v1.k1.é.abc",
     "x" * 5000],
)
def test_malformed_tokens_are_invalid(token):
    with pytest.raises(TokenInvalid):
        verify_access_token(KEYRING, token, NOW)


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "@a:ru", "sid": "s", "iat": 1, "exp": 2},  # missing jti
        {"sub": "@a:ru", "sid": "s", "iat": 1, "exp": 2, "jti": "j", "extra": 1},
        {"sub": "@a:ru", "sid": "s", "roles": [], "iat": 1, "exp": 2, "jti": "j"},  # the old shape
        {"sub": "@a:ru", "sid": "s", "iat": 1, "exp": 2, "jti": "j", "sid ": "s"},
        {"sub": ["@a:ru"], "sid": "s", "iat": 1, "exp": 2, "jti": "j"},
        {"sub": "@a:ru", "sid": 7, "iat": 1, "exp": 2, "jti": "j"},
        {"sub": "@a:ru", "sid": "s", "iat": "1", "exp": 2, "jti": "j"},
        {"sub": "@a:ru", "sid": "s", "iat": 1, "exp": True, "jti": "j"},
        {"sub": "@a:ru", "sid": "s", "iat": 1, "exp": 2.5, "jti": "j"},
        {"sub": "@a:ru", "sid": "s", "iat": 1, "exp": 2, "jti": None},
        ["not", "an", "object"],
    ],
)
def test_correctly_signed_but_malformed_claims_are_invalid(claims):
    # Only the key holder could make these; the verifier still refuses anything but the exact shape.
    with pytest.raises(TokenInvalid, match="claim"):
        verify_access_token(KEYRING, signed_with_key(claims), 0)


def test_keys_must_be_long_enough_and_well_named():
    with pytest.raises(ValueError, match="32 bytes"):
        SigningKey("k1", b"short")
    with pytest.raises(ValueError, match="key id"):
        SigningKey("k 1", b"\x00" * 32)
    with pytest.raises(ValueError, match="not in the keyring"):
        Keyring("k9", {"k1": KEY.secret})
    key = new_signing_key("k5")
    assert len(key.secret) == 32
    assert key.secret.hex() not in repr(key) and repr(key).endswith("<32 bytes>)")
    assert "\\x" not in repr(Keyring("k5", {"k5": key.secret}))


# --- refresh families -----------------------------------------------------------------------------

POLICY = RefreshPolicy(absolute_s=30 * 86400, idle_s=7 * 86400, spent_kept=4)


def start():
    return start_refresh_family(new_session_id(), NOW, POLICY)


def test_a_family_starts_at_generation_one_storing_only_the_hash():
    family, token = start()

    assert family.generation == 1
    assert family.token_hash == hash_refresh_token(token) != token
    assert token.startswith(family.family_id + ".")
    assert refresh_token_family(token) == family.family_id
    assert family.expires_at == NOW + 30 * 86400
    assert len(unb64(token.split(".")[1])) == 32


def test_the_current_token_rotates_to_the_next_generation():
    family, token = start()
    second, token2 = rotate_refresh(family, token, NOW + 60, POLICY)

    assert second.generation == 2
    assert second.token_hash == hash_refresh_token(token2)
    assert second.spent_hashes == (family.token_hash,)
    assert second.last_used_at == NOW + 60
    assert second.expires_at == family.expires_at  # rotation never extends the absolute expiry


def test_presenting_a_spent_token_is_reuse():
    family, token = start()
    second, token2 = rotate_refresh(family, token, NOW + 60, POLICY)
    third, _ = rotate_refresh(second, token2, NOW + 120, POLICY)

    for spent in (token, token2):
        with pytest.raises(RefreshReuse) as caught:
            rotate_refresh(third, spent, NOW + 180, POLICY)
        assert caught.value.session_id == family.family_id
        assert caught.value.code == "refresh_reuse"


def test_only_the_last_spent_hashes_are_remembered():
    family, token = start()
    first_token = token
    for step in range(6):
        family, token = rotate_refresh(family, token, NOW + step, POLICY)

    assert len(family.spent_hashes) == POLICY.spent_kept
    with pytest.raises(TokenInvalid):  # too old to prove it was ever issued: refused, not reuse
        rotate_refresh(family, first_token, NOW + 10, POLICY)


def test_a_guessed_token_for_a_known_session_is_invalid_not_reuse():
    family, _ = start()
    with pytest.raises(TokenInvalid):
        rotate_refresh(family, f"{family.family_id}.{'A' * 43}", NOW, POLICY)


def test_another_sessions_token_is_invalid():
    family, _ = start()
    _, other_token = start()
    with pytest.raises(TokenInvalid, match="does not belong"):
        rotate_refresh(family, other_token, NOW, POLICY)


def test_absolute_expiry_ends_the_family_however_active():
    family, token = start()
    for day in range(1, 30):
        family, token = rotate_refresh(family, token, NOW + day * 86400, POLICY)
    with pytest.raises(RefreshExpired, match="maximum age"):
        rotate_refresh(family, token, NOW + 30 * 86400, POLICY)


def test_idle_expiry_ends_an_unused_family():
    family, token = start()
    rotate_refresh(family, token, NOW + 7 * 86400 - 1, POLICY)
    with pytest.raises(RefreshExpired, match="idle"):
        rotate_refresh(family, token, NOW + 7 * 86400, POLICY)


def test_a_revoked_family_refuses_even_the_current_token():
    family, token = start()
    with pytest.raises(SessionRevoked):
        rotate_refresh(replace(family, revoked=True), token, NOW, POLICY)
    assert not replace(family, revoked=True).is_active(NOW)
    assert family.is_active(NOW)


@pytest.mark.parametrize(
    "token", ["", "no-dot", "a.b.c", "short.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "s" * 22 + ".short"]
)
def test_malformed_refresh_tokens_are_invalid(token):
    with pytest.raises(TokenInvalid):
        refresh_token_family(token)
