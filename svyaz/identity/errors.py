"""The identity domain's error root and its stable codes (listed in docs/identity.md).

The gateway turns these into wire errors in one place, by `code`. Messages are written for the
person at the client; anything meant only for the operator or the audit log (which throttle rule
refused, which account a reuse revoked) is an attribute, never part of the message.
"""

from __future__ import annotations

from svyaz.errors import SvyazError


class IdentityError(SvyazError):
    code = "identity_error"


class MalformedAccountId(IdentityError):
    code = "malformed_account"


class ForeignRegion(IdentityError):
    """The account belongs to another region: its node, not this one, keeps it (data residency)."""

    code = "foreign_region"


class DuplicateAccount(IdentityError):
    code = "taken_name"


class UnknownAccount(IdentityError):
    """An update named an account that does not exist (never raised by login, which says
    BadCredentials instead)."""

    code = "unknown_account"


class InvalidProfile(IdentityError):
    code = "invalid_profile"

    def __init__(self, field: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.field = field


class WeakPassword(IdentityError):
    code = "weak_password"

    def __init__(self, reason: str) -> None:
        super().__init__(f"password refused: {reason}", hint="choose a longer passphrase of several unrelated words")
        self.reason = reason


class MalformedPasswordHash(IdentityError):
    """A stored password hash cannot be parsed: an operator problem, never the user's."""

    code = "malformed_password_hash"


class BadCredentials(IdentityError):
    """Wrong account or wrong password. Deliberately does not say which."""

    code = "bad_credentials"

    def __init__(self) -> None:
        super().__init__("the account or the password is wrong")


class Throttled(IdentityError):
    code = "throttled"

    def __init__(self, retry_after_s: float, *, rule: str) -> None:
        seconds = max(1, int(-(-retry_after_s // 1)))  # whole seconds, rounded up
        super().__init__(
            f"too many failed sign-in attempts; try again in {seconds} s",
            hint="if this was not you, someone is guessing your password: use a strong one and enable 2FA",
        )
        self.retry_after_s = float(seconds)
        self.rule = rule  # which rule refused ("address", "account", "delay"): for the audit log only


class TotpRequired(IdentityError):
    """The password was right and the account has 2FA: the client must ask for a code."""

    code = "totp_required"


class TotpInvalid(IdentityError):
    code = "totp_invalid"


class TotpReplayed(IdentityError):
    code = "totp_replayed"


class TotpNotEnrolled(IdentityError):
    code = "totp_not_enrolled"


class TotpAlreadyEnabled(IdentityError):
    code = "totp_already_enabled"


class RecoveryCodeInvalid(IdentityError):
    code = "recovery_code_invalid"


class SecondFactorRequired(IdentityError):
    """A role granted to the account (svyaz.rbac) needs 2FA and the account has none confirmed, or
    it holds such a role and tried to turn 2FA off."""

    code = "second_factor_required"


class TokenInvalid(IdentityError):
    code = "token_invalid"


class TokenExpired(IdentityError):
    code = "token_expired"


class RefreshExpired(IdentityError):
    code = "refresh_expired"


class RefreshReuse(IdentityError):
    """A spent refresh token came back: it was copied. Its whole session has been revoked."""

    code = "refresh_reuse"

    def __init__(self, session_id: str) -> None:
        super().__init__(
            "this refresh token was already used, so it may have been stolen; the session has been ended",
            hint="sign in again; if you did not share this device, change your password",
        )
        self.session_id = session_id


class SessionRevoked(IdentityError):
    code = "session_revoked"


class StoreUnavailable(IdentityError):
    """The identity store did not answer or refused an operation; the message is the driver's reason."""

    code = "identity_store_unavailable"
