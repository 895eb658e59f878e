"""Kuznyechik (GOST R 34.12-2015) in CTR mode, through the OpenSSL GOST engine.

Unauthenticated on its own: callers add a MAC (encrypt-then-MAC with HMAC-Streebog). The crypto
issue brings an in-process AEAD; until then this runs the `openssl` binary, which suits small data.
"""

from __future__ import annotations

from svyaz.gost import openssl

KEY_BYTES = 32
IV_BYTES = 8  # OpenSSL's kuznyechik-ctr takes half a block as the IV


def kuznyechik_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    """Encrypt or decrypt (the same operation in CTR mode) `data` under `key` and `iv`."""
    if len(key) != KEY_BYTES or len(iv) != IV_BYTES:
        raise ValueError(f"Kuznyechik-CTR needs a {KEY_BYTES}-byte key and an {IV_BYTES}-byte IV")
    return openssl.output(
        ["enc", "-engine", openssl.ENGINE, "-kuznyechik-ctr", "-K", key.hex(), "-iv", iv.hex()],
        data=data, doing="run Kuznyechik-CTR",
    )
