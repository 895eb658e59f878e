"""Kuznyechik (GOST R 34.12-2015) in CTR mode with an 8-byte IV, under the name existing callers use.

`svyaz.client.sealed_file` writes files to users' disks with this function, so its output must stay
byte for byte what it was when it ran in the `openssl` binary (`openssl enc -kuznyechik-ctr`); it
now runs in-process through `symmetric.ctr`, which is the same GOST R 34.13-2015 CTR. Unauthenticated
on its own: new code uses `svyaz.gost.aead`.
"""

from __future__ import annotations

from svyaz.gost.symmetric import KEY_BYTES, Cipher, ctr

IV_BYTES = Cipher.KUZNYECHIK.iv_bytes  # half a block: the other half is the block counter

__all__ = ["IV_BYTES", "KEY_BYTES", "kuznyechik_ctr"]


def kuznyechik_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    """Encrypt or decrypt (the same operation in CTR mode) `data` under `key` and `iv`.

    InvalidKey if the key is not 32 bytes or the IV not 8.
    """
    return ctr(Cipher.KUZNYECHIK, key, iv, data)
