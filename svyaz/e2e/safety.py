"""Safety numbers: 60 digits two people compare (aloud, or by eye) to rule out a key swapped by
the node or anyone between them. The same for both sides, whoever computes it.

Each side's half is Streebog-512 iterated over its account and identity key, so finding a
different key with the same half costs ITERATIONS hashes per try, on top of a 2^100 search.
"""

from __future__ import annotations

from svyaz.gost import streebog512

ITERATIONS = 5200
_VERSION = b"\x00\x01"
_DIGITS_PER_HALF = 30


def safety_number(one: tuple[str, bytes], other: tuple[str, bytes]) -> str:
    """For (account, identity public key) pairs: 12 groups of 5 digits, halves in account order."""
    halves = sorted((one, other))
    digits = "".join(_half(account, key) for account, key in halves)
    return " ".join(digits[i:i + 5] for i in range(0, len(digits), 5))


def _half(account: str, identity_key: bytes) -> str:
    digest = _VERSION + identity_key + account.encode()
    for _ in range(ITERATIONS):
        digest = streebog512(digest + identity_key)
    # Six 5-digit groups, each from 5 bytes of the digest (40 bits mod 10^5: bias below 10^-6).
    return "".join(f"{int.from_bytes(digest[i * 5:i * 5 + 5], 'big') % 100000:05d}"
                   for i in range(_DIGITS_PER_HALF // 5))
