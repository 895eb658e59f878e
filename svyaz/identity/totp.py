"""TOTP (RFC 6238) second factor: enrolment, verification with replay protection, a terminal QR code.

Pure: the caller passes `now` and the account's last accepted time step, and stores the step this
module returns (atomically, only if it is newer: see `IdentityStore.record_totp_step`). A code is
accepted for its own 30-second step and one step either side (clock drift between phone and
server), and each step is accepted once per account (ASVS 5.0 6.5.1): a code for a step at or
before the last accepted one is `TotpReplayed`, even if it is still inside the window.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import secrets
from dataclasses import dataclass

import pyotp
import qrcode

from svyaz.identity.errors import TotpInvalid, TotpReplayed

ISSUER = "Svyaz"
SECRET_BYTES = 20  # 160 bits, RFC 4226's recommendation and the SHA-1 block-friendly size
DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


@dataclass(frozen=True)
class TotpParams:
    """What authenticator apps agree on by default; tests use the RFC's 8-digit SHA-256/512 variants."""

    digits: int = 6
    digest: str = "sha1"
    step_s: int = 30
    window: int = 1  # steps accepted either side of the current one

    def __post_init__(self) -> None:
        if self.digest not in DIGESTS:
            raise ValueError(f"digest must be one of {', '.join(DIGESTS)}, not {self.digest!r}")
        if not 6 <= self.digits <= 10 or self.step_s < 1 or self.window < 0:
            raise ValueError(f"impossible TOTP parameters: {self}")


DEFAULT_PARAMS = TotpParams()


@dataclass(frozen=True)
class TotpEnrolment:
    """What a person needs to add the account to an authenticator app. The secret is shown once."""

    secret: str  # base32, no padding
    uri: str  # otpauth://totp/Svyaz:@alice:ru?secret=...&issuer=Svyaz


def new_secret() -> str:
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii").rstrip("=")


def enrol(account_id: str, params: TotpParams = DEFAULT_PARAMS) -> TotpEnrolment:
    secret = new_secret()
    return TotpEnrolment(secret=secret, uri=provisioning_uri(secret, account_id, params))


def provisioning_uri(secret: str, account_id: str, params: TotpParams = DEFAULT_PARAMS) -> str:
    """The `otpauth://` URI (Google Authenticator key-URI format) with issuer Svyaz, labelled by the account."""
    return _otp(secret, params).provisioning_uri(name=account_id, issuer_name=ISSUER)


def time_step(now: float, params: TotpParams = DEFAULT_PARAMS) -> int:
    return int(now) // params.step_s


def code_at(secret: str, step: int, params: TotpParams = DEFAULT_PARAMS) -> str:
    """The code for time step `step` (T in RFC 6238)."""
    return _otp(secret, params).generate_otp(step)


def verify_code(
    secret: str,
    code: str,
    *,
    now: float,
    last_used_step: int | None,
    params: TotpParams = DEFAULT_PARAMS,
) -> int:
    """The time step `code` belongs to; TotpInvalid if it matches none in the window, TotpReplayed if
    it matches only steps at or before `last_used_step`.

    Every step in the window is compared, in constant time, whatever matched earlier: how long this
    takes says nothing about which step matched.
    """
    candidate = "".join(code.split())  # apps show "123 456"
    if len(candidate) != params.digits or not candidate.isascii() or not candidate.isdigit():
        raise TotpInvalid(f"a code is {params.digits} digits")
    current = time_step(now, params)
    fresh: int | None = None
    replayed = False
    for step in range(current - params.window, current + params.window + 1):
        if step < 0:
            continue
        if hmac.compare_digest(code_at(secret, step, params), candidate):
            if last_used_step is not None and step <= last_used_step:
                replayed = True
            else:
                fresh = step if fresh is None else max(fresh, step)
    if fresh is not None:
        return fresh
    if replayed:
        raise TotpReplayed("this code was already used; wait for the next one")
    raise TotpInvalid("the code is wrong or too old; check the clock of the device that shows it")


def render_qr(uri: str, *, invert: bool = False) -> str:
    """`uri` as a QR code drawn with Unicode half blocks, for a terminal (two modules per character).

    `invert=True` suits light-on-dark terminals where dark blocks would read as light.
    """
    code = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(uri)
    code.make(fit=True)
    out = io.StringIO()
    code.print_ascii(out=out, invert=invert)
    return out.getvalue()


def _otp(secret: str, params: TotpParams) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=params.digits, digest=DIGESTS[params.digest], interval=params.step_s)
