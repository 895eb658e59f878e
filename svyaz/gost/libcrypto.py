"""The one ctypes binding to the system OpenSSL 3 libcrypto, and its GOST engine.

Every in-process GOST primitive reaches OpenSSL through `function()` here, so prototypes are
declared once and OpenSSL's error queue is turned into one kind of exception in one place.

Why both the provider and the engine: on OpenSSL 3.0 with libengine-gost-openssl 3.0 the GOST
*provider* serves digests, ciphers and MACs (fetched by name in the default library context), but
cannot make or load GOST R 34.10-2012 keys; the *engine* can. The engine is registered only for
public-key methods, so it never replaces the provider's digests and ciphers that hashlib uses.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from typing import Any

from svyaz.gost.provider import INSTALL_HINT, GostUnavailable, _libcrypto, load_gost_provider

c_void_p = ctypes.c_void_p
c_char_p = ctypes.c_char_p
c_int = ctypes.c_int
c_size_t = ctypes.c_size_t

# include/openssl/engine.h: register only public-key methods and their ASN.1 (keys, signatures, VKO).
_ENGINE_METHOD_PKEY_METHS = 0x0200
_ENGINE_METHOD_PKEY_ASN1_METHS = 0x0400
ENGINE_ID = b"gost"

_lock = threading.Lock()
_library: ctypes.CDLL | None = None
_engine: int | None = None
_functions: dict[str, Callable[..., Any]] = {}


class OpenSslError(GostUnavailable):
    """OpenSSL refused an operation; the message holds OpenSSL's reason, never key material."""

    code = "gost_openssl_error"


def library() -> ctypes.CDLL:
    """libcrypto with the GOST provider loaded (and its RFC 6986 self-check passed)."""
    global _library
    if _library is None:
        load_gost_provider()
        with _lock:
            if _library is None:
                _library = _libcrypto()
    return _library


def function(name: str, restype: Any, *argtypes: Any) -> Callable[..., Any]:
    """libcrypto's `name` with its prototype declared; declared once per process."""
    bound = _functions.get(name)
    if bound is None:
        bound = getattr(library(), name)
        bound.restype = restype
        bound.argtypes = list(argtypes)
        _functions[name] = bound
    elif bound.restype is not restype or bound.argtypes != list(argtypes):
        # ctypes keeps one prototype per function: a second, different one would silently win or lose.
        raise TypeError(f"libcrypto.{name} is declared twice with different prototypes")
    return bound


def engine() -> int:
    """The initialised `gost` engine handle, registered as the default for GOST public keys."""
    global _engine
    if _engine is None:
        by_id = function("ENGINE_by_id", c_void_p, c_char_p)
        init = function("ENGINE_init", c_int, c_void_p)
        set_default = function("ENGINE_set_default", c_int, c_void_p, ctypes.c_uint)
        unregister_ciphers = function("ENGINE_unregister_ciphers", None, c_void_p)
        unregister_digests = function("ENGINE_unregister_digests", None, c_void_p)
        with _lock:
            if _engine is None:
                handle = by_id(ENGINE_ID)
                if not handle:
                    clear_errors()
                    raise GostUnavailable(
                        "OpenSSL has no `gost` engine, needed for GOST R 34.10-2012 keys", hint=INSTALL_HINT
                    )
                if init(handle) != 1 or set_default(
                    handle, _ENGINE_METHOD_PKEY_METHS | _ENGINE_METHOD_PKEY_ASN1_METHS
                ) != 1:
                    raise_error("start the GOST engine")
                # Loading the engine registers it for every GOST cipher and digest NID, and then the
                # provider's own ciphers run the engine's code inside: kuznyechik-ctr-acpkm, for one,
                # refuses its section size. Keep the engine to public keys only.
                unregister_ciphers(handle)
                unregister_digests(handle)
                _engine = handle
    return _engine


def check(result: int, doing: str) -> None:
    """Raise OpenSslError unless an OpenSSL call returned 1 (its success value)."""
    if result != 1:
        raise_error(doing)


def raise_error(doing: str) -> None:
    raise OpenSslError(f"OpenSSL could not {doing}: {_drain_errors() or 'no reason given'}")


def clear_errors() -> None:
    _drain_errors()


def _drain_errors() -> str:
    # The queue is per thread; draining it keeps an old failure from being blamed on a later call.
    get_error = function("ERR_get_error", ctypes.c_ulong)
    error_string = function("ERR_error_string_n", None, ctypes.c_ulong, c_char_p, c_size_t)
    reasons = []
    while code := get_error():
        buffer = ctypes.create_string_buffer(256)
        error_string(code, buffer, len(buffer))
        reasons.append(buffer.value.decode("ascii", errors="replace"))
    return "; ".join(reasons)[:300]
