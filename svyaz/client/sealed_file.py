"""A small file sealed with GOST: Kuznyechik-CTR then HMAC-Streebog-256 (in-process OpenSSL).

Used where no OS keyring exists (a headless server): the client's tokens are kept in such a file,
with a key derived by PBKDF2-HMAC-Streebog-512 from a passphrase. Encrypt-then-MAC; a fresh random
IV on every write; the MAC covers the header, the salt, the IV and the ciphertext, and is checked
in constant time before anything is decrypted. The layout predates `svyaz.gost.aead` and is kept
so that files already on users' disks still open.

Layout: b"SVZ1" | salt(16) | iv(8) | ciphertext | mac(32)
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from svyaz.errors import SvyazError
from svyaz.gost import load_gost_provider
from svyaz.gost.cipher import IV_BYTES, kuznyechik_ctr

MAGIC = b"SVZ1"
SALT_BYTES, MAC_BYTES = 16, 32
# A passphrase guards this file against theft of the disk: make guessing it expensive.
KDF_ITERATIONS = 100_000


class SealedFileError(SvyazError):
    code = "sealed_file_error"


def _keys(passphrase: str, salt: bytes) -> tuple[bytes, bytes]:
    load_gost_provider()
    material = hashlib.pbkdf2_hmac("md_gost12_512", passphrase.encode(), salt, KDF_ITERATIONS, 64)
    return material[:32], material[32:]  # cipher key, MAC key


def seal(plaintext: bytes, passphrase: str) -> bytes:
    salt, iv = secrets.token_bytes(SALT_BYTES), secrets.token_bytes(IV_BYTES)
    cipher_key, mac_key = _keys(passphrase, salt)
    body = MAGIC + salt + iv + kuznyechik_ctr(cipher_key, iv, plaintext)
    return body + hmac.new(mac_key, body, "md_gost12_256").digest()


def unseal(sealed: bytes, passphrase: str) -> bytes:
    if len(sealed) < len(MAGIC) + SALT_BYTES + IV_BYTES + MAC_BYTES or not sealed.startswith(MAGIC):
        raise SealedFileError("not a Svyaz sealed file (or truncated)")
    body, mac = sealed[:-MAC_BYTES], sealed[-MAC_BYTES:]
    salt = body[len(MAGIC):len(MAGIC) + SALT_BYTES]
    iv = body[len(MAGIC) + SALT_BYTES:len(MAGIC) + SALT_BYTES + IV_BYTES]
    cipher_key, mac_key = _keys(passphrase, salt)
    if not hmac.compare_digest(mac, hmac.new(mac_key, body, "md_gost12_256").digest()):
        raise SealedFileError("wrong passphrase, or the file was changed", hint="check SVYAZ_KEYRING_PASSPHRASE")
    return kuznyechik_ctr(cipher_key, iv, body[len(MAGIC) + SALT_BYTES + IV_BYTES:])


def write_sealed(path: Path, plaintext: bytes, passphrase: str) -> None:
    """Atomic replace, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(seal(plaintext, passphrase))
    tmp.replace(path)


def read_sealed(path: Path, passphrase: str) -> bytes:
    return unseal(path.read_bytes(), passphrase)
