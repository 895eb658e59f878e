"""GOST cryptography for the whole project, through the system OpenSSL and Debian's GOST provider.

Today: loading the provider into the process's OpenSSL and proving Streebog works (`provider`);
GOST R 34.10-2012 signatures (`signing`) and Kuznyechik-CTR (`cipher`) through the `openssl` binary
and the GOST engine (`openssl`, the one runner). The crypto issue adds AEAD and VKO here. May import only the standard library.
"""

from svyaz.gost.provider import GostUnavailable, load_gost_provider, streebog256, streebog512

__all__ = ["GostUnavailable", "load_gost_provider", "streebog256", "streebog512"]
