"""The token pair a session hands out: a short-lived signed access token and a rotating refresh token.

Access token (format in docs/identity.md), four dot-separated parts:

    v1.<key id>.<base64url canonical JSON claims>.<base64url HMAC-Streebog-256>

The MAC covers `v1.<key id>.<claims>` exactly as sent, so verification never re-serialises
anything. Claims: sub (account id), sid (session id), amr (how the session signed in: `pwd`, and
`otp` after a second factor), iat, exp, jti, and nothing else: a token
says who, which session and how it signed in, never what they may do (roles are looked up in svyaz.rbac at every
check, so a revocation needs no token to expire). The key id picks the key from a keyring, so
keys rotate without logging anyone out: sign with the new key, keep the old one for verification
until the last token it signed has expired (one lifetime).

Refresh token: `<session id>.<32 random bytes, base64url>`. Only its Streebog-256 hash is stored,
in the session's `RefreshFamily`. Every use returns a new token (generation + 1) and spends the
old one; a spent token presented again means two parties hold the family, so the session is
revoked (RFC 9700 section 4.14). The session id in the token lets the store find the family of
a spent token; only a token whose hash is among the family's spent hashes counts as reuse, so
knowing a session id is not enough to end someone's session.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace

from svyaz.gost import load_gost_provider
from svyaz.identity.errors import RefreshExpired, RefreshReuse, SessionRevoked, TokenExpired, TokenInvalid

VERSION = "v1"
MAC_DIGEST = "md_gost12_256"
DEFAULT_ACCESS_LIFETIME_S = 300
MIN_KEY_BYTES = 32
MAX_TOKEN_CHARS = 4096
_KID = re.compile(r"[A-Za-z0-9_-]{1,32}")
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
# Exactly these, no more and no fewer: anything else in a correctly signed token is refused.
_CLAIMS = {"sub": str, "sid": str, "amr": list, "iat": int, "exp": int, "jti": str}
# Authentication methods (RFC 8176): how the session was signed in. "otp" only when a second factor
# (TOTP or a recovery code) was presented at sign-in; the guard requires it for privileged roles.
PASSWORD = "pwd"
ONE_TIME_PASSWORD = "otp"
_METHODS = frozenset({PASSWORD, ONE_TIME_PASSWORD})


@dataclass(frozen=True)
class SigningKey:
    kid: str
    secret: bytes = b""

    def __post_init__(self) -> None:
        if not _KID.fullmatch(self.kid):
            raise ValueError(f"a key id is 1-32 of [A-Za-z0-9_-], not {self.kid!r}")
        if len(self.secret) < MIN_KEY_BYTES:
            raise ValueError(f"token key {self.kid!r} must be at least {MIN_KEY_BYTES} bytes")

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid!r}, secret=<{len(self.secret)} bytes>)"


@dataclass(frozen=True)
class Keyring:
    """All keys a node accepts, by id, and the id of the one it signs with."""

    current: str
    keys: Mapping[str, bytes]

    def __post_init__(self) -> None:
        for kid, secret in self.keys.items():
            SigningKey(kid, secret)  # validates
        if self.current not in self.keys:
            raise ValueError(f"the signing key {self.current!r} is not in the keyring")

    @property
    def signing_key(self) -> SigningKey:
        return SigningKey(self.current, self.keys[self.current])

    def __repr__(self) -> str:
        return f"Keyring(current={self.current!r}, keys={sorted(self.keys)})"


def new_signing_key(kid: str) -> SigningKey:
    return SigningKey(kid, secrets.token_bytes(MIN_KEY_BYTES))


@dataclass(frozen=True)
class AccessGrant:
    """Who the token speaks for; issue_access_token adds the times and a unique id."""

    sub: str
    sid: str
    amr: tuple[str, ...] = (PASSWORD,)


@dataclass(frozen=True)
class AccessClaims:
    sub: str
    sid: str
    amr: tuple[str, ...]
    iat: int
    exp: int
    jti: str


def issue_access_token(
    key: SigningKey, grant: AccessGrant, now: float, *, lifetime_s: int = DEFAULT_ACCESS_LIFETIME_S
) -> str:
    iat = int(now)
    claims = {
        "sub": grant.sub,
        "sid": grant.sid,
        "amr": sorted(grant.amr),
        "iat": iat,
        "exp": iat + lifetime_s,
        "jti": secrets.token_urlsafe(12),
    }
    payload = _b64(json.dumps(claims, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii"))
    signed = f"{VERSION}.{key.kid}.{payload}"
    return f"{signed}.{_b64(_mac(key.secret, signed))}"


def verify_access_token(
    keyring: Keyring | Mapping[str, bytes], token: str, now: float, *, leeway_s: float = 0.0
) -> AccessClaims:
    """The claims of a genuine, unexpired token; TokenInvalid or TokenExpired otherwise.

    The MAC is checked (in constant time) before the claims are even parsed.
    """
    keys = keyring.keys if isinstance(keyring, Keyring) else keyring
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise TokenInvalid("the access token is malformed")
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != VERSION:
        raise TokenInvalid("the access token is malformed")
    _, kid, payload, mac = parts
    if not (_B64URL.fullmatch(payload) and _B64URL.fullmatch(mac)):
        raise TokenInvalid("the access token is malformed")
    secret = keys.get(kid)
    if secret is None:
        raise TokenInvalid("the access token was signed with a key this node does not know")
    try:
        presented = _unb64(mac)
    except (ValueError, binascii.Error):
        raise TokenInvalid("the access token is malformed") from None
    if not hmac.compare_digest(_mac(secret, f"{VERSION}.{kid}.{payload}"), presented):
        raise TokenInvalid("the access token's signature does not match")
    claims = _parse_claims(payload)
    if claims.iat > now + leeway_s:
        raise TokenInvalid("the access token was issued in the future; check the clocks")
    if now >= claims.exp + leeway_s:
        raise TokenExpired("the access token has expired; refresh it")
    return claims


# --- refresh tokens -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshPolicy:
    absolute_s: float = 30 * 86400  # a session ends this long after sign-in, used or not
    idle_s: float = 7 * 86400  # ... or this long after its last refresh
    spent_kept: int = 64  # spent hashes remembered for reuse detection

    def __post_init__(self) -> None:
        if self.absolute_s <= 0 or self.idle_s <= 0 or self.spent_kept < 1:
            raise ValueError(f"refresh lifetimes and spent_kept must be positive: {self}")


@dataclass(frozen=True)
class RefreshFamily:
    """The refresh state of one session; `family_id` is the session id."""

    family_id: str
    generation: int
    token_hash: str  # hex Streebog-256 of the current token
    spent_hashes: tuple[str, ...]  # the last `spent_kept` tokens' hashes, oldest first
    issued_at: float
    last_used_at: float
    expires_at: float  # absolute
    idle_s: float
    revoked: bool = False

    @property
    def idle_expires_at(self) -> float:
        return self.last_used_at + self.idle_s

    def is_active(self, now: float) -> bool:
        return not self.revoked and now < self.expires_at and now < self.idle_expires_at


def new_session_id() -> str:
    return secrets.token_urlsafe(16)


def new_refresh_token(family_id: str) -> str:
    return f"{family_id}.{secrets.token_urlsafe(32)}"


def hash_refresh_token(token: str) -> str:
    load_gost_provider()
    return hashlib.new("md_gost12_256", token.encode("utf-8")).hexdigest()


def refresh_token_family(token: str) -> str:
    """The session id a refresh token names; TokenInvalid if it is not shaped like one."""
    if not isinstance(token, str) or len(token) > 256 or token.count(".") != 1:
        raise TokenInvalid("the refresh token is malformed")
    family_id, secret = token.split(".")
    if not _SESSION_ID.fullmatch(family_id) or len(secret) < 32:
        raise TokenInvalid("the refresh token is malformed")
    return family_id


def start_refresh_family(
    family_id: str, now: float, policy: RefreshPolicy = RefreshPolicy()
) -> tuple[RefreshFamily, str]:
    token = new_refresh_token(family_id)
    family = RefreshFamily(
        family_id=family_id,
        generation=1,
        token_hash=hash_refresh_token(token),
        spent_hashes=(),
        issued_at=now,
        last_used_at=now,
        expires_at=now + policy.absolute_s,
        idle_s=policy.idle_s,
    )
    return family, token


def rotate_refresh(
    family: RefreshFamily, presented: str, now: float, policy: RefreshPolicy = RefreshPolicy()
) -> tuple[RefreshFamily, str]:
    """The family's next generation and its token, for the current token.

    SessionRevoked if the family was revoked; RefreshReuse if `presented` is a spent token of this
    family (the caller must then revoke the session); RefreshExpired past the absolute or idle
    expiry; TokenInvalid for anything else.
    """
    if refresh_token_family(presented) != family.family_id:
        raise TokenInvalid("the refresh token does not belong to this session")
    if family.revoked:
        raise SessionRevoked("this session has been ended; sign in again")
    digest = hash_refresh_token(presented)
    if not hmac.compare_digest(digest, family.token_hash):
        if any(hmac.compare_digest(digest, spent) for spent in family.spent_hashes):
            raise RefreshReuse(family.family_id)
        raise TokenInvalid("the refresh token is not valid for this session")
    if now >= family.expires_at:
        raise RefreshExpired("the session has reached its maximum age; sign in again")
    if now >= family.idle_expires_at:
        raise RefreshExpired("the session was idle too long; sign in again")
    token = new_refresh_token(family.family_id)
    return (
        replace(
            family,
            generation=family.generation + 1,
            token_hash=hash_refresh_token(token),
            spent_hashes=(family.spent_hashes + (family.token_hash,))[-policy.spent_kept :],
            last_used_at=now,
        ),
        token,
    )


def _parse_claims(payload: str) -> AccessClaims:
    try:
        raw = json.loads(_unb64(payload))
    except (ValueError, binascii.Error):
        raise TokenInvalid("the access token's claims are malformed") from None
    if not isinstance(raw, dict) or set(raw) != set(_CLAIMS):
        raise TokenInvalid("the access token's claims are malformed")
    for name, kind in _CLAIMS.items():
        if not isinstance(raw[name], kind) or isinstance(raw[name], bool):
            raise TokenInvalid(f"the access token's claim {name!r} is malformed")
    amr = raw["amr"]
    if not amr or not all(isinstance(method, str) and method in _METHODS for method in amr):
        raise TokenInvalid("the access token's claim 'amr' is malformed")
    return AccessClaims(sub=raw["sub"], sid=raw["sid"], amr=tuple(amr), iat=raw["iat"], exp=raw["exp"],
                        jti=raw["jti"])


def _mac(secret: bytes, signed: str) -> bytes:
    load_gost_provider()
    return hmac.new(secret, signed.encode("utf-8"), MAC_DIGEST).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    if not _B64URL.fullmatch(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
