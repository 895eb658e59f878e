"""Load Debian's GOST provider (`gostprov`) into the OpenSSL that Python's hashlib uses.

Once loaded, `hashlib.new("md_gost12_256")`, `hmac.new(key, msg, "md_gost12_512")` and
`hashlib.pbkdf2_hmac("md_gost12_512", ...)` run at OpenSSL speed. Loading is checked against the
RFC 6986 test vectors, so a provider that loads but computes wrongly also stops start-up.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import hmac
import threading

from svyaz.errors import SvyazError

INSTALL_HINT = "apt-get install libengine-gost-openssl (Debian/Ubuntu), then start again"

# RFC 6986 section 10.1, example M1: the 63-byte message "0123456789" x 6 + "012".
# The RFC prints digests as little-endian numbers; these are the byte strings hashlib returns.
RFC6986_M1 = b"012345678901234567890123456789012345678901234567890123456789012"
RFC6986_M1_256 = "9d151eefd8590b89daa6ba6cb74af9275dd051026bb149a452fd84e5e57b5500"
RFC6986_M1_512 = (
    "1b54d01a4af5b9d5cc3d86d68d285462b19abc2475222f35c085122be4ba1ffa"
    "00ad30f8767b3a82384c6574f024c311e2a481332b08ef7f41797891c1646f48"
)

_lock = threading.Lock()
_loaded = False


class GostUnavailable(SvyazError):
    code = "gost_unavailable"


def _libcrypto() -> ctypes.CDLL:
    # The same libcrypto that Python's _hashlib links against (OpenSSL 3): providers are per-library.
    try:
        return ctypes.CDLL("libcrypto.so.3")
    except OSError:
        name = ctypes.util.find_library("crypto")
        if name is None:
            raise GostUnavailable("OpenSSL 3 libcrypto not found", hint="apt-get install libssl3") from None
        return ctypes.CDLL(name)


def load_gost_provider() -> None:
    """Load `default` and `gostprov` into OpenSSL's default context, then check RFC 6986.

    Explicitly loading any provider turns off OpenSSL's implicit `default`, so it is loaded too.
    Idempotent and thread-safe. Raises GostUnavailable with the fix when anything is missing.
    """
    global _loaded
    with _lock:
        if _loaded:
            return
        lib = _libcrypto()
        lib.OSSL_PROVIDER_load.restype = ctypes.c_void_p
        lib.OSSL_PROVIDER_load.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        for name in (b"default", b"gostprov"):
            if not lib.OSSL_PROVIDER_load(None, name):
                raise GostUnavailable(
                    f"the OpenSSL provider {name.decode()!r} could not be loaded; "
                    "Svyaz needs GOST (Streebog, GOST R 34.10-2012) for passwords, tokens and the audit log",
                    hint=INSTALL_HINT,
                )
        _check_vectors()
        _loaded = True


def _check_vectors() -> None:
    try:
        got256 = hashlib.new("md_gost12_256", RFC6986_M1).hexdigest()
        got512 = hashlib.new("md_gost12_512", RFC6986_M1).hexdigest()
    except ValueError as err:
        raise GostUnavailable(
            f"OpenSSL loaded the GOST provider but offers no Streebog digest ({err})", hint=INSTALL_HINT
        ) from err
    if not (hmac.compare_digest(got256, RFC6986_M1_256) and hmac.compare_digest(got512, RFC6986_M1_512)):
        raise GostUnavailable(
            "Streebog from OpenSSL does not match the RFC 6986 test vectors; refusing to use it",
            hint="reinstall libengine-gost-openssl and check `openssl dgst -provider gostprov -md_gost12_256`",
        )


def streebog256(data: bytes) -> bytes:
    load_gost_provider()
    return hashlib.new("md_gost12_256", data).digest()


def streebog512(data: bytes) -> bytes:
    load_gost_provider()
    return hashlib.new("md_gost12_512", data).digest()
