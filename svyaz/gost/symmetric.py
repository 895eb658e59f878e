"""Kuznyechik and Magma (GOST R 34.12-2015) and their modes (GOST R 34.13-2015), in-process.

Everything runs inside this process's OpenSSL through Debian's GOST provider (`gostprov`), fetched
by name: no subprocess, no copy of the data beyond the output buffer, the GIL released while OpenSSL
works. Fetching an algorithm is expensive, so each EVP_CIPHER / EVP_MAC is fetched once per process
and shared (OpenSSL allows that across threads); every call gets, and frees, its own context, so
callers may use these functions from several threads at once.

Unauthenticated on their own: `ctr` and `ctr_acpkm` only encrypt. Use `svyaz.gost.aead` for data
that must not be changed unnoticed.

The provider has no `magma-ecb`; one Magma block is encrypted or decrypted with `magma-cbc` and a
zero IV, which for a single block is the same thing.
"""

from __future__ import annotations

import ctypes
import threading
from enum import StrEnum

from svyaz.gost.errors import CryptoError, InvalidKey
from svyaz.gost.libcrypto import check, function, raise_error

KEY_BYTES = 32


class Cipher(StrEnum):
    """The two GOST R 34.12-2015 block ciphers; the value is the provider's name stem."""

    KUZNYECHIK = "kuznyechik"
    MAGMA = "magma"

    @property
    def block_bytes(self) -> int:
        return 16 if self is Cipher.KUZNYECHIK else 8

    @property
    def iv_bytes(self) -> int:
        """CTR's IV is half a block (GOST R 34.13-2015 §5.2); the other half is the counter."""
        return self.block_bytes // 2


# ACPKM re-keys after every section of this many bytes (R 1323565.1.017-2018, RFC 8645).
# The standard leaves N to the protocol that uses it; these are gost-engine's defaults for its
# `kuznyechik-ctr-acpkm` and `magma-ctr-acpkm` (OIDs 1.2.643.7.1.1.5.{2,1}.1), so our output is what
# any gost-engine user gets. They are set explicitly on every call, so a provider with other
# defaults cannot change our ciphertext.
ACPKM_SECTION_BYTES: dict[Cipher, int] = {Cipher.KUZNYECHIK: 4096, Cipher.MAGMA: 1024}

# EVP_CipherUpdate takes an int length; larger inputs go through in chunks of whole blocks.
_CHUNK_BYTES = 1 << 30

_c_void_p, _c_char_p, _c_int, _c_size_t = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_size_t
_OSSL_PARAM_UNSIGNED_INTEGER = 2  # include/openssl/core.h


class _OsslParam(ctypes.Structure):
    """`OSSL_PARAM` from include/openssl/core.h: how provider options (here the ACPKM section) are passed."""

    _fields_ = [
        ("key", _c_char_p),
        ("data_type", ctypes.c_uint),
        ("data", _c_void_p),
        ("data_size", _c_size_t),
        ("return_size", _c_size_t),
    ]


_lock = threading.Lock()
_fetched: dict[tuple[str, bytes], int] = {}


def encrypt_block(cipher: Cipher, key: bytes, block: bytes) -> bytes:
    """One block encrypted with the bare cipher (ECB), as in the standards' examples and in KDFs."""
    return _block(cipher, key, block, encrypt=True)


def decrypt_block(cipher: Cipher, key: bytes, block: bytes) -> bytes:
    return _block(cipher, key, block, encrypt=False)


def ctr(cipher: Cipher, key: bytes, iv: bytes, data: bytes) -> bytes:
    """CTR mode (GOST R 34.13-2015 §5.2): encrypts and decrypts alike. `iv` is half a block."""
    _check_key(cipher, key)
    _check_iv(cipher, iv)
    return _run_cipher(f"{cipher}-ctr", key, iv, data, encrypt=True)


def ctr_acpkm(cipher: Cipher, key: bytes, iv: bytes, data: bytes, *, section_bytes: int | None = None) -> bytes:
    """CTR with ACPKM re-keying (R 1323565.1.017-2018, RFC 8645): a new key every section.

    Re-keying bounds how much data one key ever touches, which lets a key protect far more data
    than plain CTR safely allows. `section_bytes` defaults to `ACPKM_SECTION_BYTES[cipher]`; pass
    another only to reproduce an example that uses one.
    """
    _check_key(cipher, key)
    _check_iv(cipher, iv)
    section = ACPKM_SECTION_BYTES[cipher] if section_bytes is None else section_bytes
    if section <= 0 or section % cipher.block_bytes:
        raise CryptoError(
            f"an ACPKM section must be a positive multiple of {cipher}'s {cipher.block_bytes}-byte block, "
            f"not {section} bytes"
        )
    return _run_cipher(f"{cipher}-ctr-acpkm", key, iv, data, encrypt=True, key_mesh=section)


def omac(cipher: Cipher, key: bytes, data: bytes) -> bytes:
    """OMAC1 / CMAC (GOST R 34.13-2015 §5.6), the full block as the tag (16 or 8 bytes)."""
    _check_key(cipher, key)
    new = function("EVP_MAC_CTX_new", _c_void_p, _c_void_p)
    free = function("EVP_MAC_CTX_free", None, _c_void_p)
    init = function("EVP_MAC_init", _c_int, _c_void_p, _c_char_p, _c_size_t, _c_void_p)
    update = function("EVP_MAC_update", _c_int, _c_void_p, _c_char_p, _c_size_t)
    final = function("EVP_MAC_final", _c_int, _c_void_p, _c_char_p, ctypes.POINTER(_c_size_t), _c_size_t)

    ctx = new(_fetch("mac", f"{cipher}-mac"))
    if not ctx:
        raise_error(f"start a {cipher} MAC")
    try:
        check(init(ctx, key, len(key), None), f"key the {cipher} MAC")
        check(update(ctx, data, len(data)), f"compute the {cipher} MAC")
        tag = ctypes.create_string_buffer(cipher.block_bytes)
        written = _c_size_t(0)
        check(final(ctx, tag, ctypes.byref(written), len(tag)), f"finish the {cipher} MAC")
        if written.value != cipher.block_bytes:
            raise CryptoError(f"OpenSSL returned a {written.value}-byte {cipher} MAC, expected {cipher.block_bytes}")
        return tag.raw
    finally:
        free(ctx)


def _block(cipher: Cipher, key: bytes, block: bytes, *, encrypt: bool) -> bytes:
    _check_key(cipher, key)
    if len(block) != cipher.block_bytes:
        raise CryptoError(f"{cipher} works on {cipher.block_bytes}-byte blocks, got {len(block)} bytes")
    if cipher is Cipher.KUZNYECHIK:
        return _run_cipher("kuznyechik-ecb", key, None, block, encrypt=encrypt)
    return _run_cipher("magma-cbc", key, bytes(cipher.block_bytes), block, encrypt=encrypt)


def _run_cipher(name: str, key: bytes, iv: bytes | None, data: bytes, *, encrypt: bool,
                key_mesh: int | None = None) -> bytes:
    new = function("EVP_CIPHER_CTX_new", _c_void_p)
    free = function("EVP_CIPHER_CTX_free", None, _c_void_p)
    init = function("EVP_CipherInit_ex2", _c_int, _c_void_p, _c_void_p, _c_char_p, _c_char_p, _c_int, _c_void_p)
    set_padding = function("EVP_CIPHER_CTX_set_padding", _c_int, _c_void_p, _c_int)
    set_params = function("EVP_CIPHER_CTX_set_params", _c_int, _c_void_p, ctypes.POINTER(_OsslParam))
    update = function("EVP_CipherUpdate", _c_int, _c_void_p, _c_void_p, ctypes.POINTER(_c_int), _c_char_p, _c_int)
    final = function("EVP_CipherFinal_ex", _c_int, _c_void_p, _c_void_p, ctypes.POINTER(_c_int))

    cipher = _fetch("cipher", name)
    ctx = new()
    if not ctx:
        raise_error(f"start {name}")
    try:
        check(init(ctx, cipher, key, iv, 1 if encrypt else 0, None), f"key {name}")
        check(set_padding(ctx, 0), f"turn off padding for {name}")
        if key_mesh is not None:
            # After init: initialising resets the section size to the provider's default.
            section = _c_size_t(key_mesh)
            params = (_OsslParam * 2)()
            params[0] = _OsslParam(b"key-mesh", _OSSL_PARAM_UNSIGNED_INTEGER,
                                   ctypes.addressof(section), ctypes.sizeof(section), 0)
            check(set_params(ctx, params), f"set the ACPKM section size of {name}")
        out = ctypes.create_string_buffer(len(data))
        base = ctypes.addressof(out)
        written, total = _c_int(0), 0
        for start in range(0, len(data), _CHUNK_BYTES):
            chunk = data[start:start + _CHUNK_BYTES] if len(data) > _CHUNK_BYTES else data
            check(update(ctx, base + total, ctypes.byref(written), chunk, len(chunk)), f"run {name}")
            total += written.value
        check(final(ctx, base + total, ctypes.byref(written)), f"finish {name}")
        total += written.value
        if total != len(data):
            raise CryptoError(f"OpenSSL's {name} returned {total} bytes for {len(data)}")
        return out.raw
    finally:
        free(ctx)


def _fetch(kind: str, name: str) -> int:
    """The provider's EVP_CIPHER or EVP_MAC called `name`, fetched once and kept for the process."""
    key = (kind, name.encode())
    handle = _fetched.get(key)
    if handle is None:
        fetch = function(f"EVP_{kind.upper()}_fetch", _c_void_p, _c_void_p, _c_char_p, _c_char_p)
        with _lock:
            handle = _fetched.get(key)
            if handle is None:
                handle = fetch(None, key[1], None)
                if not handle:
                    raise_error(f"find the {kind} {name!r} in the GOST provider")
                _fetched[key] = handle
    return handle


def _check_key(cipher: Cipher, key: bytes) -> None:
    if len(key) != KEY_BYTES:
        raise InvalidKey(f"a {cipher} key is {KEY_BYTES} bytes, got {len(key)}")


def _check_iv(cipher: Cipher, iv: bytes) -> None:
    if len(iv) != cipher.iv_bytes:
        raise InvalidKey(f"the IV of {cipher}-CTR is {cipher.iv_bytes} bytes (half a block), got {len(iv)}")
