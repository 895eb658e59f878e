"""One-time recovery codes: the way back in when the authenticator is lost.

Ten codes like `7K3M-Q9XD-2WFA`, 12 symbols from Crockford's 32-letter alphabet (no I, L, O, U),
so 60 bits each: guessing one within the login throttle is hopeless. Only HMAC-Streebog-256
values keyed by a per-account random salt are stored; a stolen database gives no codes, and the
same code never hashes alike for two accounts. Using a code removes it (`consume`; the store
does the same with an atomic `$pull`).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from dataclasses import dataclass

from svyaz.gost import load_gost_provider
from svyaz.identity.errors import RecoveryCodeInvalid

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
GROUPS = 3
GROUP_LEN = 4
CODE_LEN = GROUPS * GROUP_LEN
CODE_BITS = CODE_LEN * 5
COUNT = 10
SALT_BYTES = 16
# Crockford's reading rules: letters people confuse with digits mean the digit.
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


@dataclass(frozen=True)
class RecoveryCodes:
    codes: tuple[str, ...]  # shown to the person once, never stored
    salt: str  # base64
    hashes: tuple[str, ...]  # hex HMAC-Streebog-256 of each normalised code, what the store keeps


def generate(count: int = COUNT) -> RecoveryCodes:
    salt = secrets.token_bytes(SALT_BYTES)
    codes = tuple(_format("".join(secrets.choice(ALPHABET) for _ in range(CODE_LEN))) for _ in range(count))
    salt_text = base64.b64encode(salt).decode("ascii")
    return RecoveryCodes(codes=codes, salt=salt_text, hashes=tuple(hash_code(code, salt_text) for code in codes))


def normalize(code: str) -> str:
    """The 12 symbols of `code` in upper case; dashes, spaces and case do not matter."""
    symbols = "".join(code.split()).replace("-", "").upper().translate(_READ_AS)
    if len(symbols) != CODE_LEN or any(symbol not in ALPHABET for symbol in symbols):
        raise RecoveryCodeInvalid(f"a recovery code is {CODE_LEN} letters and digits, like XXXX-XXXX-XXXX")
    return symbols


def hash_code(code: str, salt: str) -> str:
    load_gost_provider()
    try:
        key = base64.b64decode(salt, validate=True)
    except binascii.Error as err:
        raise ValueError("the recovery-code salt is not base64") from err
    return hmac.new(key, normalize(code).encode("ascii"), "md_gost12_256").hexdigest()


def find(code: str, salt: str, hashes: tuple[str, ...] | list[str]) -> str:
    """The stored hash `code` matches; RecoveryCodeInvalid if none.

    Compares against every stored hash, in constant time, without stopping at a match.
    """
    candidate = hash_code(code, salt)
    matched = None
    for stored in hashes:
        if hmac.compare_digest(candidate, stored):
            matched = stored
    if matched is None:
        raise RecoveryCodeInvalid("the recovery code is wrong or was already used")
    return matched


def consume(code: str, salt: str, hashes: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The hashes left once `code` is used up; RecoveryCodeInvalid if it is not among them."""
    matched = find(code, salt, hashes)
    return tuple(stored for stored in hashes if stored != matched)


def _format(symbols: str) -> str:
    return "-".join(symbols[i : i + GROUP_LEN] for i in range(0, CODE_LEN, GROUP_LEN))
