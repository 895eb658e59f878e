"""A small file sealed with GOST: Kuznyechik-CTR then HMAC-Streebog-256 (in-process OpenSSL).

Used where no OS keyring exists (a headless server): the client's tokens are kept in such a file,
with keys derived by PBKDF2-HMAC-Streebog-512 from a passphrase and the file's salt. The salt and
the work factor are chosen when the file is made and kept when it is rewritten, so one derivation
per process serves every read and rewrite; the IV is fresh on every write. Encrypt-then-MAC: the
MAC covers the header (work factor included), the salt, the IV and the ciphertext, and is checked
in constant time before anything is decrypted. The layout predates `svyaz.gost.aead` and is kept
so that files already on users' disks still open.

    b"SVZ2" | iterations(4, big-endian) | salt(16) | iv(8) | ciphertext | mac(32)
    b"SVZ1" | salt(16) | iv(8) | ciphertext | mac(32)        (read only: 100,000 iterations)
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
import struct
from dataclasses import dataclass
from pathlib import Path

from svyaz.errors import SvyazError
from svyaz.gost import load_gost_provider
from svyaz.gost.cipher import IV_BYTES, kuznyechik_ctr

MAGIC, MAGIC_V1 = b"SVZ2", b"SVZ1"
SALT_BYTES, MAC_BYTES = 16, 32
# A passphrase guards this file against theft of the disk: make guessing it expensive.
KDF_ITERATIONS = 100_000
MIN_KDF_ITERATIONS = 1_000
_ITERATIONS = struct.Struct(">I")


class SealedFileError(SvyazError):
    code = "sealed_file_error"


@dataclass(frozen=True)
class _Header:
    raw: bytes          # as written, the start of what the MAC covers
    iterations: int
    salt: bytes


@functools.lru_cache(maxsize=4)
def _keys(passphrase: str, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
    # Remembered for the process: a command reads and rewrites the file several times, and one
    # derivation at the default work factor costs most of a second.
    load_gost_provider()
    material = hashlib.pbkdf2_hmac("md_gost12_512", passphrase.encode(), salt, iterations, 64)
    return material[:32], material[32:]  # cipher key, MAC key


def seal(plaintext: bytes, passphrase: str, *, iterations: int = KDF_ITERATIONS, salt: bytes | None = None) -> bytes:
    if iterations < MIN_KDF_ITERATIONS:
        raise SealedFileError(f"a sealed file needs at least {MIN_KDF_ITERATIONS} KDF iterations, not {iterations}")
    salt, iv = salt or secrets.token_bytes(SALT_BYTES), secrets.token_bytes(IV_BYTES)
    cipher_key, mac_key = _keys(passphrase, salt, iterations)
    body = MAGIC + _ITERATIONS.pack(iterations) + salt + iv + kuznyechik_ctr(cipher_key, iv, plaintext)
    return body + hmac.new(mac_key, body, "md_gost12_256").digest()


def unseal(sealed: bytes, passphrase: str) -> bytes:
    header = _header(sealed)
    if header is None or len(sealed) < len(header.raw) + IV_BYTES + MAC_BYTES:
        raise SealedFileError("not a Svyaz sealed file (or truncated)")
    body, mac = sealed[:-MAC_BYTES], sealed[-MAC_BYTES:]
    iv = body[len(header.raw):len(header.raw) + IV_BYTES]
    cipher_key, mac_key = _keys(passphrase, header.salt, header.iterations)
    if not hmac.compare_digest(mac, hmac.new(mac_key, body, "md_gost12_256").digest()):
        raise SealedFileError("wrong passphrase, or the file was changed", hint="check SVYAZ_KEYRING_PASSPHRASE")
    return kuznyechik_ctr(cipher_key, iv, body[len(header.raw) + IV_BYTES:])


def write_sealed(path: Path, plaintext: bytes, passphrase: str, *, iterations: int = KDF_ITERATIONS) -> None:
    """Atomic replace, readable by the owner only. A file that is there keeps its salt and work
    factor (`iterations` is for a new file)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    existing = _header_of(path)
    if existing is not None and existing.raw.startswith(MAGIC):
        iterations, salt = existing.iterations, existing.salt
    else:
        salt = None
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(seal(plaintext, passphrase, iterations=iterations, salt=salt))
    tmp.replace(path)


def read_sealed(path: Path, passphrase: str) -> bytes:
    return unseal(path.read_bytes(), passphrase)


def _header(sealed: bytes) -> _Header | None:
    if sealed.startswith(MAGIC) and len(sealed) >= len(MAGIC) + _ITERATIONS.size + SALT_BYTES:
        (iterations,) = _ITERATIONS.unpack_from(sealed, len(MAGIC))
        end = len(MAGIC) + _ITERATIONS.size + SALT_BYTES
        if iterations < MIN_KDF_ITERATIONS:
            return None
        return _Header(sealed[:end], iterations, sealed[end - SALT_BYTES:end])
    if sealed.startswith(MAGIC_V1) and len(sealed) >= len(MAGIC_V1) + SALT_BYTES:
        end = len(MAGIC_V1) + SALT_BYTES
        return _Header(sealed[:end], KDF_ITERATIONS, sealed[len(MAGIC_V1):end])
    return None


def _header_of(path: Path) -> _Header | None:
    try:
        with path.open("rb") as file:
            return _header(file.read(len(MAGIC) + _ITERATIONS.size + SALT_BYTES))
    except FileNotFoundError:
        return None
