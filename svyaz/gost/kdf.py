"""Key derivation with Streebog: HMAC (R 50.1.113-2016), PBKDF2 (R 50.1.111-2016) and the KDFs of
RFC 7836 (KDF_GOSTR3411_2012_256 and KDF_TREE_GOSTR3411_2012_256).

All of it runs on hashlib and hmac, which are OpenSSL with the GOST provider once it is loaded, so
these are as fast as OpenSSL and need no ctypes of their own.
"""

from __future__ import annotations

import hashlib
import hmac

from svyaz.gost.errors import CryptoError
from svyaz.gost.provider import load_gost_provider

STREEBOG256 = "md_gost12_256"
STREEBOG512 = "md_gost12_512"
_KDF_BLOCK_BYTES = 32  # one HMAC-Streebog-256 output per KDF_TREE step


def hmac_streebog256(key: bytes, data: bytes) -> bytes:
    """HMAC_GOSTR3411_2012_256 (R 50.1.113-2016, RFC 7836): 32 bytes."""
    load_gost_provider()
    return hmac.new(key, data, STREEBOG256).digest()


def hmac_streebog512(key: bytes, data: bytes) -> bytes:
    """HMAC_GOSTR3411_2012_512 (R 50.1.113-2016, RFC 7836): 64 bytes."""
    load_gost_provider()
    return hmac.new(key, data, STREEBOG512).digest()


def pbkdf2_streebog512(password: bytes, salt: bytes, iterations: int, length: int) -> bytes:
    """PBKDF2 with HMAC-Streebog-512 (R 50.1.111-2016): `length` bytes from a password."""
    if iterations < 1:
        raise CryptoError(f"PBKDF2 needs at least one iteration, got {iterations}")
    if length < 1:
        raise CryptoError(f"PBKDF2 must derive at least one byte, got a length of {length}")
    load_gost_provider()
    return hashlib.pbkdf2_hmac(STREEBOG512, password, salt, iterations, length)


def kdf_256(key: bytes, label: bytes, seed: bytes) -> bytes:
    """KDF_GOSTR3411_2012_256 (RFC 7836): HMAC256(key, 01 | label | 00 | seed | 01 00), 32 bytes."""
    return kdf_tree_256(key, label, seed, _KDF_BLOCK_BYTES)


def kdf_tree_256(key: bytes, label: bytes, seed: bytes, length: int, r: int = 1) -> bytes:
    """KDF_TREE_GOSTR3411_2012_256 (RFC 7836 §4.5): `length` bytes, several keys from one.

    Block i is HMAC256(key, [i]_r | label | 00 | seed | [L]), where [i]_r is i in `r` big-endian
    bytes and [L] the output length in bits, big-endian in as few bytes as hold it (RFC 7836's
    examples: 01 00 for 256 bits, 02 00 for 512); the blocks are joined and cut to `length`.
    """
    if not 1 <= r <= 4:
        raise CryptoError(f"KDF_TREE's counter is 1 to 4 bytes long (R), got {r}")
    if length < 1:
        raise CryptoError(f"KDF_TREE must derive at least one byte, got a length of {length}")
    blocks = -(-length // _KDF_BLOCK_BYTES)
    if blocks >= 256**r:
        raise CryptoError(f"KDF_TREE with a {r}-byte counter derives at most {(256**r - 1) * 32} bytes, "
                          f"{length} were asked for")
    bits = length * 8
    tail = b"\x00" + seed + bits.to_bytes((bits.bit_length() + 7) // 8, "big")
    load_gost_provider()
    prefix = hmac.new(key, digestmod=STREEBOG256)
    output = bytearray()
    for i in range(1, blocks + 1):
        step = prefix.copy()
        step.update(i.to_bytes(r, "big") + label + tail)
        output += step.digest()
    return bytes(output[:length])
