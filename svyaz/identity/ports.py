"""The records the identity store keeps and the port the service depends on.

`store.IdentityStore` implements the port over pymongo; unit tests use an in-memory fake. The
methods block (pymongo does): a trio caller runs them, or the service that calls them, in
`trio.to_thread.run_sync`. Account ids are passed as their canonical text (`@alice:ru`), already
validated by the caller. Times are seconds since the epoch.

The claiming methods (`record_totp_step`, `consume_recovery_code`, `rotate_refresh`, `confirm_totp`,
`revoke_session`) are where concurrency is decided: two processes racing one of them must leave
exactly one winner, without transactions or conditional updates (FerretDB 1.24 has neither atomic;
see `store`).

The port keeps credentials, the second factor and sessions only. Roles are not here: svyaz.rbac's
role assignments are their one source of truth, and the service asks for them through the
`granted_roles` callable it is given.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from svyaz.identity.profile import Profile
from svyaz.identity.throttle import Failures
from svyaz.identity.tokens import RefreshFamily, RefreshPolicy


@dataclass(frozen=True)
class AccountRecord:
    account_id: str
    password_hash: str
    created_at: float


@dataclass(frozen=True)
class TotpRecord:
    account_id: str
    secret: str  # base32; the store keeps it (TOTP needs the shared secret itself)
    enabled: bool  # False between enrolment and the first correct code
    last_used_step: int | None
    recovery_salt: str
    recovery_hashes: tuple[str, ...]
    enrolled_at: float
    confirmed_at: float | None


@dataclass(frozen=True)
class SessionRecord:
    session_id: str
    account_id: str
    device: str
    user_agent: str
    address: str
    created_at: float
    last_seen_at: float
    refresh: RefreshFamily  # refresh.revoked mirrors `revoked`
    methods: tuple[str, ...] = ("pwd",)  # RFC 8176 amr values proven at sign-in, see tokens.py
    revoked: bool = False
    revoked_at: float | None = None
    revoked_reason: str | None = None

    def is_active(self, now: float) -> bool:
        return not self.revoked and self.refresh.is_active(now)


class IdentityStorePort(Protocol):
    # accounts
    def create_account(self, account_id: str, password_hash: str, now: float) -> AccountRecord:
        """Raise DuplicateAccount if the id is taken."""
        ...

    def get_account(self, account_id: str) -> AccountRecord | None: ...

    def set_password_hash(self, account_id: str, password_hash: str) -> None:
        """Raise UnknownAccount if there is no such account."""
        ...

    def get_profile(self, account_id: str) -> Profile: ...

    def save_profile(self, account_id: str, profile: Profile) -> None: ...

    # TOTP and recovery codes
    def enrol_totp(self, account_id: str, secret: str, now: float) -> None:
        """Store an unconfirmed secret, replacing an unconfirmed one; TotpAlreadyEnabled if one is confirmed."""
        ...

    def confirm_totp(
        self, account_id: str, secret: str, step: int, recovery_salt: str, recovery_hashes: Sequence[str], now: float
    ) -> bool:
        """Enable the pending `secret` with `step` as its last used step; False if it is not pending."""
        ...

    def disable_totp(self, account_id: str) -> None: ...

    def get_totp(self, account_id: str) -> TotpRecord | None: ...

    def record_totp_step(self, account_id: str, step: int) -> bool:
        """Claim `step` as used, only if no step at or after it was. False means a replay (or a lost race)."""
        ...

    def consume_recovery_code(self, account_id: str, code_hash: str) -> bool:
        """Atomically remove `code_hash`; False if it was not there (never issued, or already used)."""
        ...

    def replace_recovery_codes(self, account_id: str, recovery_salt: str, recovery_hashes: Sequence[str]) -> None: ...

    # sessions
    def create_session(self, session: SessionRecord) -> None: ...

    def get_session(self, session_id: str) -> SessionRecord | None: ...

    def rotate_refresh(self, token: str, now: float, policy: RefreshPolicy) -> tuple[SessionRecord, str]:
        """The session after rotation and its new refresh token.

        Atomic on the current hash and generation. A spent token revokes the session, then raises
        RefreshReuse; also SessionRevoked, RefreshExpired, TokenInvalid as `tokens.rotate_refresh`.
        """
        ...

    def list_sessions(self, account_id: str, *, include_revoked: bool = False) -> list[SessionRecord]:
        """Newest activity first."""
        ...

    def revoke_session(self, session_id: str, *, reason: str, now: float, account_id: str | None = None) -> bool:
        """False if there is no such active session (or, with `account_id`, not one of that account's)."""
        ...

    def revoke_other_sessions(self, account_id: str, keep_session_id: str, *, reason: str, now: float) -> int: ...

    def revoke_all_sessions(self, account_id: str, *, reason: str, now: float) -> int: ...

    def is_session_active(self, session_id: str, now: float) -> bool: ...

    def revoked_sessions(self, session_ids: Collection[str]) -> set[str]: ...

    # sign-in failures, for the throttle
    def record_failure(self, account_id: str, address: str, now: float) -> None: ...

    def recent_failures(self, account_id: str, address: str, now: float) -> Failures: ...

    def clear_failures(self, account_id: str, address: str) -> None:
        """Forget this address's failures against this account (after it signed in)."""
        ...
