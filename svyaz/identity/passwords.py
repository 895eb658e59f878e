"""Password hashing with PBKDF2-HMAC-Streebog-512 (R 50.1.111-2016) and the password policy.

A stored hash describes itself, so the iteration count can grow without a migration:

    pbkdf2-streebog512$<iterations>$<salt, base64>$<64-byte derived key, base64>

Passwords are NFKC-normalised before hashing, so the same passphrase typed on another keyboard
(composed vs decomposed letters, full-width digits) still matches.

Cost: one iteration is two Streebog-512 compressions; at DEFAULT_ITERATIONS a hash takes about
80 ms on the reference machine (see docs/identity.md). OpenSSL's PBKDF2 releases the GIL, so
callers run it in a worker thread.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import unicodedata
from functools import cache
from importlib.resources import files

from svyaz.gost import load_gost_provider
from svyaz.identity.accounts import AccountId
from svyaz.identity.errors import MalformedPasswordHash, WeakPassword

SCHEME = "pbkdf2-streebog512"
DIGEST = "md_gost12_512"
DEFAULT_ITERATIONS = 10_000
MIN_ITERATIONS = 1
MAX_ITERATIONS = 10_000_000  # a stored hash is trusted, but not to stall a worker for minutes
SALT_BYTES = 16
KEY_BYTES = 64

MIN_LENGTH = 10
MAX_LENGTH = 256
# Below this length a password must mix at least two kinds of character (lower, upper, digit, other).
SINGLE_CLASS_MIN_LENGTH = 16


def derive_key(password: bytes, salt: bytes, iterations: int, length: int = KEY_BYTES) -> bytes:
    """Raw PBKDF2-HMAC-Streebog-512, as R 50.1.111-2016 specifies it."""
    load_gost_provider()
    return hashlib.pbkdf2_hmac(DIGEST, password, salt, iterations, length)


def hash_password(password: str, *, iterations: int = DEFAULT_ITERATIONS, salt: bytes | None = None) -> str:
    """A self-describing hash of `password` with a fresh 16-byte salt (pass `salt` only in tests)."""
    if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
        raise ValueError(f"iterations must be {MIN_ITERATIONS}..{MAX_ITERATIONS}, not {iterations}")
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    key = derive_key(_encode(password), salt, iterations)
    return f"{SCHEME}${iterations}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, encoded: str) -> bool:
    """True if `password` matches `encoded`; the comparison takes the same time wherever they differ."""
    iterations, salt, expected = _parse(encoded)
    actual = derive_key(_encode(password), salt, iterations, len(expected))
    return hmac.compare_digest(actual, expected)


def needs_rehash(encoded: str, *, iterations: int = DEFAULT_ITERATIONS) -> bool:
    """True if `encoded` was made with other settings: rehash it after the next successful login."""
    stored_iterations, salt, key = _parse(encoded)
    return stored_iterations != iterations or len(salt) != SALT_BYTES or len(key) != KEY_BYTES


def check_password(password: str, account: str | AccountId) -> None:
    """Raise WeakPassword with the reason unless `password` is acceptable for `account`.

    `account` is the bare name (`alice`) or the account id (`@alice:ru`).
    """
    length = len(password)
    if length < MIN_LENGTH:
        raise WeakPassword(f"it must be at least {MIN_LENGTH} characters long, it has {length}")
    if length > MAX_LENGTH:
        raise WeakPassword(f"it must be at most {MAX_LENGTH} characters long, it has {length}")
    folded = unicodedata.normalize("NFKC", password).casefold()
    if folded in common_passwords():
        raise WeakPassword("it is one of the most common passwords, which are tried first")
    name = _account_name(account)
    if name and name.casefold() in folded:
        raise WeakPassword("it contains the account name")
    if length < SINGLE_CLASS_MIN_LENGTH and len(_character_classes(password)) == 1:
        raise WeakPassword(
            f"a password shorter than {SINGLE_CLASS_MIN_LENGTH} characters must mix letters, "
            "capitals, digits or symbols"
        )


@cache
def common_passwords() -> frozenset[str]:
    text = files("svyaz.identity").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(
        unicodedata.normalize("NFKC", line.strip()).casefold()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


def _character_classes(password: str) -> set[str]:
    classes = set()
    for char in password:
        if char.islower():
            classes.add("lower")
        elif char.isupper():
            classes.add("upper")
        elif char.isdigit():
            classes.add("digit")
        else:
            classes.add("other")
    return classes


def _account_name(account: str | AccountId) -> str:
    if isinstance(account, AccountId):
        return account.name
    return account.removeprefix("@").split(":", 1)[0]


def _encode(password: str) -> bytes:
    return unicodedata.normalize("NFKC", password).encode("utf-8")


def _parse(encoded: str) -> tuple[int, bytes, bytes]:
    parts = encoded.split("$")
    if len(parts) != 4 or parts[0] != SCHEME:
        raise MalformedPasswordHash(f"a stored password hash is not in the {SCHEME} format")
    try:
        iterations = int(parts[1])
        salt = _unb64(parts[2])
        key = _unb64(parts[3])
    except (ValueError, binascii.Error) as err:
        raise MalformedPasswordHash(f"a stored password hash cannot be parsed: {err}") from err
    if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS or not salt or not key:
        raise MalformedPasswordHash("a stored password hash has impossible parameters")
    return iterations, salt, key


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
