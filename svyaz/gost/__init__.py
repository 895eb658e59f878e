"""GOST cryptography for the whole project, in-process through the system OpenSSL 3 and Debian's
GOST provider (`gostprov`), at OpenSSL speed.

- `provider`: loads the provider into the OpenSSL that hashlib uses and checks Streebog against
  RFC 6986; after that `md_gost12_256/512` work in hashlib and hmac.
- `libcrypto`: the one ctypes binding to libcrypto, and OpenSSL's errors as `OpenSslError`.
- `symmetric`: Kuznyechik and Magma blocks, CTR, CTR-ACPKM and OMAC.
- `kdf`: HMAC-Streebog, PBKDF2 and the RFC 7836 KDFs.
- `aead`: the project's authenticated encryption (Kuznyechik CTR-ACPKM + OMAC); use it, not the
  bare modes, for anything new.
- `keys`: GOST R 34.10-2012 keys (256 and 512), signatures and VKO key agreement, through the
  GOST *engine* (the provider cannot make or load these keys on OpenSSL 3.0).
- `signing`: the node's audit key pair in PEM files that `openssl dgst -verify` reads as they are.
- `keyfiles`: writing key files safely (0600, atomic, one winner among racing processes).
- `cipher`: Kuznyechik-CTR under the name sealed files on users' disks depend on.
- `errors`: `CryptoError` and its kinds; no message ever holds key material.

May import only the standard library and `svyaz.errors`.
"""

from svyaz.gost.provider import GostUnavailable, load_gost_provider, streebog256, streebog512

__all__ = ["GostUnavailable", "load_gost_provider", "streebog256", "streebog512"]
