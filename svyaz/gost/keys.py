"""GOST R 34.10-2012 keys: generate, import and export, sign and verify, VKO key agreement.

Everything runs in-process in the system OpenSSL through Debian's GOST engine (see `libcrypto`):
keys are engine EVP_PKEYs, Streebog comes from the provider through hashlib, and the engine signs
and verifies the digest. A signature is what `openssl dgst -engine gost -md_gost12_256 -sign`
writes (s || r, big-endian), and the PEM files are the ones `openssl genpkey -engine gost` and
`openssl pkey -pubout` write, so keys and signatures interoperate with the command line both ways.

Raw encodings follow RFC 4491 / R 1323565.1.023: a private key is its scalar, little-endian; a
public key is x || y, each little-endian. Imported keys are checked by OpenSSL (`EC_KEY_check_key`:
on the curve, not the point at infinity, in the subgroup of order q, private scalar in [1, q) and
matching its public point) and must round-trip to the same bytes, so a non-canonical encoding
(a coordinate >= p) is refused too.

Objects are immutable and may be shared between threads: every operation makes its own
EVP_PKEY_CTX. No message or repr ever holds key material. May import only the standard library and
`svyaz.gost`.
"""

from __future__ import annotations

import base64
import binascii
import ctypes
import hashlib
import re
import weakref
from enum import Enum
from typing import Any

from svyaz.gost import libcrypto
from svyaz.gost.errors import InvalidKey
from svyaz.gost.libcrypto import c_char_p, c_int, c_size_t, c_void_p, check, clear_errors, engine, function
from svyaz.gost.provider import streebog256

UKM_BYTES = 8  # RFC 7836 VKO takes a 64-bit UKM; the engine derives VKO_GOSTR3410_2012_256 from 8 bytes
VKO_BYTES = 32
_EVP_PKEY_CTRL_SET_IV = 8  # include/openssl/evp.h: the engine takes the UKM through this control

_ALGORITHM_256 = "1.2.643.7.1.1.1.1"  # id-tc26-gost3410-12-256
_ALGORITHM_512 = "1.2.643.7.1.1.1.2"  # id-tc26-gost3410-12-512
_DIGEST_256 = "1.2.643.7.1.1.2.2"  # id-tc26-gost3411-12-256
_DIGEST_512 = "1.2.643.7.1.1.2.3"  # id-tc26-gost3411-12-512


class Curve(Enum):
    """A GOST R 34.10-2012 parameter set; the value is its OID (OpenSSL accepts it as `paramset`).

    CRYPTOPRO_256_A is what `openssl genpkey -algorithm gost2012_256 -pkeyopt paramset:A` makes
    (the engine's `A` means id-GostR3410-2001-CryptoPro-A-ParamSet, equal in its parameters to
    id-tc26-gost-3410-2012-256-paramSetB); the node's audit key has always been on it.
    TC26_256_A is `paramset:TCA`, the twisted Edwards curve of R 1323565.1.024 (cofactor 4).
    """

    TC26_256_A = "1.2.643.7.1.2.1.1.1"
    TC26_512_A = "1.2.643.7.1.2.1.2.1"
    CRYPTOPRO_256_A = "1.2.643.2.2.35.1"

    @property
    def key_bytes(self) -> int:
        return 64 if self is Curve.TC26_512_A else 32

    @property
    def signature_bytes(self) -> int:
        return 2 * self.key_bytes

    @property
    def digest(self) -> str:
        """The hashlib / OpenSSL name of the Streebog this curve signs with."""
        return "md_gost12_512" if self.key_bytes == 64 else "md_gost12_256"

    @property
    def algorithm(self) -> str:
        """OpenSSL's name of the key type."""
        return "gost2012_512" if self.key_bytes == 64 else "gost2012_256"

    def _hash(self, data: bytes) -> bytes:
        libcrypto.library()  # loads the provider that serves Streebog to hashlib
        return hashlib.new(self.digest, data).digest()

    def _algorithm_identifier(self) -> bytes:
        # As the engine writes it: the TC26 256-bit sets omit the digest OID (R 1323565.1.023).
        if self is Curve.TC26_512_A:
            return _sequence(_oid(_ALGORITHM_512), _sequence(_oid(self.value), _oid(_DIGEST_512)))
        if self is Curve.TC26_256_A:
            return _sequence(_oid(_ALGORITHM_256), _sequence(_oid(self.value)))
        return _sequence(_oid(_ALGORITHM_256), _sequence(_oid(self.value), _oid(_DIGEST_256)))


class PrivateKey:
    """A GOST R 34.10-2012 private key (with its public key), held in OpenSSL."""

    __slots__ = ("_pkey", "curve", "__weakref__")

    def __init__(self, pkey: int, curve: Curve) -> None:
        # Internal: takes ownership of an engine EVP_PKEY. Use generate / from_bytes / from_pem.
        self._pkey = _Handle(pkey)
        self.curve = curve

    @classmethod
    def generate(cls, curve: Curve = Curve.TC26_256_A) -> PrivateKey:
        curve = Curve(curve)
        ctx = _ctx_new_id(_nid(curve.algorithm.encode()))
        try:
            check(_f.keygen_init(ctx), "start generating a GOST key")
            check(_f.ctrl_str(ctx, b"paramset", curve.value.encode()), "choose the GOST parameter set")
            pkey = c_void_p()
            check(_f.keygen(ctx, ctypes.byref(pkey)), "generate a GOST key")
        finally:
            _f.ctx_free(ctx)
        return cls(pkey.value, curve)

    @classmethod
    def from_bytes(cls, raw: bytes, curve: Curve) -> PrivateKey:
        """The key whose scalar is `raw` (little-endian). InvalidKey unless 0 < scalar < q."""
        curve = Curve(curve)
        raw = bytes(raw)
        if len(raw) != curve.key_bytes:
            raise InvalidKey(f"a {curve.name} private key is {curve.key_bytes} bytes, not {len(raw)}")
        if not any(raw):
            raise InvalidKey("the private key is zero")
        # PKCS#8 PrivateKeyInfo, as the engine writes it: the scalar as a little-endian OCTET STRING.
        der = bytearray(_sequence(b"\x02\x01\x00", curve._algorithm_identifier(), _tlv(0x04, raw)))
        try:
            pkey = _decode(_f.d2i_private, der)
        finally:
            der[:] = bytes(len(der))
        if not pkey:
            clear_errors()
            raise InvalidKey(f"OpenSSL refused the {curve.name} private key")
        key = cls(pkey, curve)
        # The engine may reduce a scalar >= q on import; comparing the bytes catches that.
        if not (key._check() and key._scalar() == raw):
            raise InvalidKey(f"the private key is not in the range 1..q-1 of {curve.name}")
        return key

    @classmethod
    def from_pem(cls, pem: bytes) -> PrivateKey:
        """An unencrypted PKCS#8 `BEGIN PRIVATE KEY` PEM, as `openssl genpkey -engine gost` writes."""
        if b"ENCRYPTED PRIVATE KEY" in pem:
            raise InvalidKey("encrypted private keys are not supported; decrypt it with `openssl pkey` first")
        der = bytearray(_pem_body(pem, "PRIVATE KEY"))
        try:
            pkey = _decode(_f.d2i_private, der)
        finally:
            der[:] = bytes(len(der))
        if not pkey:
            clear_errors()
            raise InvalidKey("not a GOST R 34.10-2012 private key OpenSSL can read")
        key = cls(pkey, _curve_of(pkey, owned=True))
        if not key._check():
            raise InvalidKey(f"the {key.curve.name} private key does not match its public key")
        return key

    def to_bytes(self) -> bytes:
        return self._scalar()

    def to_pem(self) -> bytes:
        der = bytearray(_encode(_f.i2d_private, self._pkey.value, "encode the private key"))
        try:
            return _pem("PRIVATE KEY", der)
        finally:
            der[:] = bytes(len(der))

    def public_key(self) -> PublicKey:
        der = _encode(_f.i2d_public, self._pkey.value, "encode the public key")
        return PublicKey._from_der(der, self.curve)

    def sign(self, data: bytes) -> bytes:
        """The signature of Streebog(`data`) (256 or 512 after the curve), as `openssl dgst -sign`."""
        return _sign_digest(self._pkey.value, self.curve._hash(data), self.curve.signature_bytes)

    def agree(self, peer: PublicKey, ukm: bytes) -> bytes:
        """VKO_GOSTR3410_2012_256 (RFC 7836 section 4.3.1) with `peer`: 32 bytes, the same on both sides.

        `ukm` is 8 bytes (a little-endian number, not zero) both sides know, fresh for each key.
        """
        if not isinstance(peer, PublicKey):
            raise InvalidKey("the peer must be a PublicKey")
        if peer.curve is not self.curve:
            raise InvalidKey(f"cannot agree a key between {self.curve.name} and {peer.curve.name}")
        ukm = bytes(ukm)
        if len(ukm) != UKM_BYTES:
            raise InvalidKey(f"the UKM is {UKM_BYTES} bytes, not {len(ukm)}")
        if not any(ukm):
            raise InvalidKey("the UKM is zero")
        ctx = _ctx_new(self._pkey.value)
        shared = ctypes.create_string_buffer(VKO_BYTES)
        try:
            check(_f.derive_init(ctx), "start a VKO key agreement")
            check(_f.derive_set_peer(ctx, peer._pkey.value), "set the VKO peer key")
            check(_f.ctrl(ctx, -1, -1, _EVP_PKEY_CTRL_SET_IV, len(ukm), ukm), "set the VKO UKM")
            length = c_size_t(len(shared))
            check(_f.derive(ctx, shared, ctypes.byref(length)), "compute the VKO key")
            if length.value != VKO_BYTES:
                raise libcrypto.OpenSslError(f"OpenSSL derived {length.value} bytes, expected {VKO_BYTES}")
            return shared.raw
        finally:
            _f.ctx_free(ctx)
            ctypes.memset(shared, 0, len(shared))

    def _scalar(self) -> bytes:
        ec_key = _f.get0_ec(self._pkey.value)
        scalar = _f.ec_private(ec_key) if ec_key else None
        if not scalar:
            libcrypto.raise_error("read the private key")
        out = ctypes.create_string_buffer(self.curve.key_bytes)
        try:
            if _f.bn2lebinpad(scalar, out, len(out)) != len(out):
                libcrypto.raise_error("read the private key")
            return out.raw
        finally:
            ctypes.memset(out, 0, len(out))

    def _check(self) -> bool:
        return _ec_check(self._pkey.value)

    def __repr__(self) -> str:
        return f"<PrivateKey {self.curve.name}>"

    def __reduce__(self) -> Any:
        raise TypeError("a PrivateKey is not pickled; use to_pem() and store it as a secret")


class PublicKey:
    """A GOST R 34.10-2012 public key (a validated point of its curve), held in OpenSSL."""

    __slots__ = ("_pkey", "curve", "_der", "__weakref__")

    def __init__(self, pkey: int, curve: Curve, der: bytes) -> None:
        # Internal: takes ownership of an engine EVP_PKEY. Use from_bytes / from_pem.
        self._pkey = _Handle(pkey)
        self.curve = curve
        self._der = der  # SubjectPublicKeyInfo, as OpenSSL encodes it

    @classmethod
    def _from_der(cls, der: bytes, curve: Curve | None = None) -> PublicKey:
        pkey = _decode(_f.d2i_public, der)
        if not pkey:
            clear_errors()
            raise InvalidKey("OpenSSL refused the public key (not a point of its curve, or malformed)")
        found = _curve_of(pkey, owned=True)
        if curve is not None and found is not curve:
            _f.pkey_free(pkey)
            raise InvalidKey(f"the public key is on {found.name}, not {curve.name}")
        if not _ec_check(pkey):
            _f.pkey_free(pkey)
            raise InvalidKey(f"the public key is not a point of the {found.name} subgroup")
        canonical = _encode(_f.i2d_public, pkey, "encode the public key")
        return cls(pkey, found, canonical)

    @classmethod
    def from_bytes(cls, raw: bytes, curve: Curve) -> PublicKey:
        """The point x || y (each little-endian, as in the GOST public-key OCTET STRING)."""
        curve = Curve(curve)
        raw = bytes(raw)
        if len(raw) != 2 * curve.key_bytes:
            raise InvalidKey(f"a {curve.name} public key is {2 * curve.key_bytes} bytes, not {len(raw)}")
        der = _sequence(curve._algorithm_identifier(), _tlv(0x03, b"\x00" + _tlv(0x04, raw)))
        key = cls._from_der(der, curve)
        if key.to_bytes() != raw:
            raise InvalidKey(f"the public key is not a canonical {curve.name} point (a coordinate >= p)")
        return key

    @classmethod
    def from_pem(cls, pem: bytes) -> PublicKey:
        """A SubjectPublicKeyInfo `BEGIN PUBLIC KEY` PEM (`openssl pkey -pubout`)."""
        return cls._from_der(_pem_body(pem, "PUBLIC KEY"))

    def to_bytes(self) -> bytes:
        # The DER ends with the BIT STRING wrapping OCTET STRING { x || y }.
        return self._der[-2 * self.curve.key_bytes :]

    def to_der(self) -> bytes:
        return self._der

    def to_pem(self) -> bytes:
        return _pem("PUBLIC KEY", self._der)

    def fingerprint(self) -> str:
        """First 16 hex digits of Streebog-256 over the DER SubjectPublicKeyInfo."""
        return streebog256(self._der).hex()[:16]

    def verify(self, signature: bytes, data: bytes) -> bool:
        """True only for a valid signature of Streebog(`data`) by this key; never raises for a bad one."""
        if not isinstance(signature, (bytes, bytearray, memoryview)):
            return False
        signature = bytes(signature)
        if len(signature) != self.curve.signature_bytes:
            return False
        return _verify_digest(self._pkey.value, signature, self.curve._hash(data))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and other._der == self._der

    def __hash__(self) -> int:
        return hash(self._der)

    def __repr__(self) -> str:
        return f"<PublicKey {self.curve.name} {self.fingerprint()}>"


class _Handle:
    """Owns one EVP_PKEY and frees it when the key object goes away."""

    __slots__ = ("value", "__weakref__")

    def __init__(self, value: int) -> None:
        self.value = value
        weakref.finalize(self, _f.pkey_free, value)


class _Functions:
    """libcrypto's functions used here, declared on first use."""

    def __getattr__(self, name: str) -> Any:
        symbol, restype, *argtypes = _PROTOTYPES[name]
        bound = function(symbol, restype, *argtypes)
        setattr(self, name, bound)
        return bound


_PP = ctypes.POINTER(c_void_p)
_PROTOTYPES: dict[str, tuple[Any, ...]] = {
    "txt2nid": ("OBJ_txt2nid", c_int, c_char_p),
    "nid2sn": ("OBJ_nid2sn", c_char_p, c_int),
    "ctx_new_id": ("EVP_PKEY_CTX_new_id", c_void_p, c_int, c_void_p),
    "ctx_new": ("EVP_PKEY_CTX_new", c_void_p, c_void_p, c_void_p),
    "ctx_free": ("EVP_PKEY_CTX_free", None, c_void_p),
    "ctrl_str": ("EVP_PKEY_CTX_ctrl_str", c_int, c_void_p, c_char_p, c_char_p),
    "ctrl": ("EVP_PKEY_CTX_ctrl", c_int, c_void_p, c_int, c_int, c_int, c_int, c_char_p),
    "keygen_init": ("EVP_PKEY_keygen_init", c_int, c_void_p),
    "keygen": ("EVP_PKEY_keygen", c_int, c_void_p, _PP),
    "pkey_free": ("EVP_PKEY_free", None, c_void_p),
    "pkey_id": ("EVP_PKEY_get_id", c_int, c_void_p),
    "sign_init": ("EVP_PKEY_sign_init", c_int, c_void_p),
    "sign": ("EVP_PKEY_sign", c_int, c_void_p, c_char_p, ctypes.POINTER(c_size_t), c_char_p, c_size_t),
    "verify_init": ("EVP_PKEY_verify_init", c_int, c_void_p),
    "verify": ("EVP_PKEY_verify", c_int, c_void_p, c_char_p, c_size_t, c_char_p, c_size_t),
    "derive_init": ("EVP_PKEY_derive_init", c_int, c_void_p),
    "derive_set_peer": ("EVP_PKEY_derive_set_peer", c_int, c_void_p, c_void_p),
    "derive": ("EVP_PKEY_derive", c_int, c_void_p, c_char_p, ctypes.POINTER(c_size_t)),
    "d2i_private": ("d2i_AutoPrivateKey", c_void_p, c_void_p, _PP, ctypes.c_long),
    "d2i_public": ("d2i_PUBKEY", c_void_p, c_void_p, _PP, ctypes.c_long),
    "i2d_private": ("i2d_PrivateKey", c_int, c_void_p, _PP),
    "i2d_public": ("i2d_PUBKEY", c_int, c_void_p, _PP),
    # The engine's keys are legacy EC_KEYs: these read and check them.
    "get0_ec": ("EVP_PKEY_get0", c_void_p, c_void_p),
    "ec_private": ("EC_KEY_get0_private_key", c_void_p, c_void_p),
    "ec_group": ("EC_KEY_get0_group", c_void_p, c_void_p),
    "group_curve": ("EC_GROUP_get_curve_name", c_int, c_void_p),
    "ec_check": ("EC_KEY_check_key", c_int, c_void_p),
    "bn2lebinpad": ("BN_bn2lebinpad", c_int, c_void_p, c_char_p, c_int),
}
_f = _Functions()
_nids: dict[bytes, int] = {}


def _nid(name: bytes) -> int:
    nid = _nids.get(name)
    if nid is None:
        engine()  # the engine adds the GOST objects OpenSSL 3.0 does not know by itself
        nid = _f.txt2nid(name)
        if nid <= 0:
            clear_errors()
            raise libcrypto.OpenSslError(f"OpenSSL does not know {name.decode()!r}")
        _nids[name] = nid
    return nid


def _ctx_new_id(nid: int) -> int:
    ctx = _f.ctx_new_id(nid, engine())
    if not ctx:
        libcrypto.raise_error("start a GOST key operation")
    return ctx


def _ctx_new(pkey: int) -> int:
    ctx = _f.ctx_new(pkey, engine())
    if not ctx:
        libcrypto.raise_error("start a GOST key operation")
    return ctx


def _sign_digest(pkey: int, digest: bytes, signature_bytes: int) -> bytes:
    # The engine reads the digest as a little-endian number, as GOST R 34.10 and RFC 7091 do.
    ctx = _ctx_new(pkey)
    try:
        check(_f.sign_init(ctx), "start a GOST signature")
        signature = ctypes.create_string_buffer(signature_bytes)
        length = c_size_t(len(signature))
        check(_f.sign(ctx, signature, ctypes.byref(length), digest, len(digest)), "make a GOST signature")
    finally:
        _f.ctx_free(ctx)
    if length.value != signature_bytes:
        raise libcrypto.OpenSslError(f"OpenSSL made a {length.value}-byte signature, expected {signature_bytes}")
    return signature.raw


def _verify_digest(pkey: int, signature: bytes, digest: bytes) -> bool:
    ctx = _ctx_new(pkey)
    try:
        check(_f.verify_init(ctx), "start verifying a GOST signature")
        verified = _f.verify(ctx, signature, len(signature), digest, len(digest))
    finally:
        _f.ctx_free(ctx)
    clear_errors()  # a bad signature (r or s out of range, ...) leaves reasons on the queue
    return verified == 1


def _decode(d2i: Any, der: bytes | bytearray) -> int | None:
    engine()
    buffer = (ctypes.c_char * len(der)).from_buffer(der) if isinstance(der, bytearray) else ctypes.create_string_buffer(der, len(der))
    cursor = c_void_p(ctypes.addressof(buffer))
    pkey = d2i(None, ctypes.byref(cursor), len(der))
    if pkey and cursor.value != ctypes.addressof(buffer) + len(der):  # trailing bytes
        _f.pkey_free(pkey)
        return None
    return pkey


def _encode(i2d: Any, pkey: int, doing: str) -> bytes:
    length = i2d(pkey, None)
    if length <= 0:
        libcrypto.raise_error(doing)
    buffer = ctypes.create_string_buffer(length)
    cursor = c_void_p(ctypes.addressof(buffer))
    if i2d(pkey, ctypes.byref(cursor)) != length:
        libcrypto.raise_error(doing)
    try:
        return buffer.raw
    finally:
        ctypes.memset(buffer, 0, length)


def _curve_of(pkey: int, *, owned: bool = False) -> Curve:
    """The Curve of an imported key; frees it (if `owned`) and raises InvalidKey for any other."""
    ec_key = _f.get0_ec(pkey)
    group = _f.ec_group(ec_key) if ec_key else None
    paramset = _f.group_curve(group) if group else 0
    key_type = _f.pkey_id(pkey)
    for curve in Curve:
        if paramset == _nid(curve.value.encode()) and key_type == _nid(curve.algorithm.encode()):
            return curve
    if owned:
        _f.pkey_free(pkey)
    clear_errors()
    name = _f.nid2sn(paramset).decode() if paramset > 0 else "unknown"
    raise InvalidKey(
        f"unsupported GOST key (parameter set {name}); supported: {', '.join(c.name for c in Curve)}"
    )


def _ec_check(pkey: int) -> bool:
    ec_key = _f.get0_ec(pkey)
    ok = bool(ec_key) and _f.ec_check(ec_key) == 1
    clear_errors()
    return ok


# DER, just enough for GOST key containers.

def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(octets)]) + octets
    return bytes([tag]) + length + content


def _sequence(*items: bytes) -> bytes:
    return _tlv(0x30, b"".join(items))


def _oid(dotted: str) -> bytes:
    first, second, *rest = (int(arc) for arc in dotted.split("."))
    body = bytearray()
    for arc in (40 * first + second, *rest):
        chunk = [arc & 0x7F]
        while arc > 0x7F:
            arc >>= 7
            chunk.append(0x80 | (arc & 0x7F))
        body.extend(reversed(chunk))
    return _tlv(0x06, bytes(body))


def _pem(label: str, der: bytes | bytearray) -> bytes:
    encoded = base64.b64encode(bytes(der))
    lines = [encoded[i : i + 64] for i in range(0, len(encoded), 64)]
    return b"".join([f"-----BEGIN {label}-----\n".encode(), *(line + b"\n" for line in lines),
                     f"-----END {label}-----\n".encode()])


def _pem_body(pem: bytes, label: str) -> bytes:
    if isinstance(pem, str):
        pem = pem.encode("ascii", errors="replace")
    match = re.search(
        rb"-----BEGIN " + label.encode() + rb"-----(.*?)-----END " + label.encode() + rb"-----", bytes(pem), re.S
    )
    if match is None:
        raise InvalidKey(f"not a PEM {label.lower()} (no BEGIN/END {label} lines)")
    try:
        return base64.b64decode(b"".join(match.group(1).split()), validate=True)
    except binascii.Error:
        raise InvalidKey(f"the PEM {label.lower()} is not valid base64") from None
