"""The errors of the crypto package: one root, stable codes, never key material in a message."""

from __future__ import annotations

from svyaz.errors import SvyazError


class CryptoError(SvyazError):
    """Bad input to a GOST primitive: the caller's fault, nothing was decrypted or signed."""

    code = "crypto_error"


class InvalidKey(CryptoError):
    """A key of the wrong size, a point not on the curve, a scalar out of range."""

    code = "crypto_invalid_key"


class AuthenticationFailed(CryptoError):
    """A tag or ciphertext that does not authenticate: tampered, truncated or under another key."""

    code = "crypto_authentication_failed"
