"""An in-memory `IdentityStorePort` for unit tests of the service: same rules, no database.

It mirrors the adapter's compare-and-set semantics (the integration tests hold the adapter to them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from svyaz.identity import tokens
from svyaz.identity.errors import DuplicateAccount, RefreshReuse, TokenInvalid, TotpAlreadyEnabled, UnknownAccount
from svyaz.identity.ports import AccountRecord, SessionRecord, TotpRecord
from svyaz.identity.profile import Profile
from svyaz.identity.throttle import Failures, ThrottlePolicy
from svyaz.identity.tokens import RefreshPolicy


class FakeIdentityStore:
    def __init__(self, throttle: ThrottlePolicy = ThrottlePolicy()) -> None:
        self.accounts: dict[str, AccountRecord] = {}
        self.totp: dict[str, TotpRecord] = {}
        self.sessions: dict[str, SessionRecord] = {}
        self.failures: list[tuple[str, str, float]] = []
        self.profiles: dict[str, Profile] = {}
        self._throttle = throttle

    def create_account(self, account_id: str, password_hash: str, now: float) -> AccountRecord:
        if account_id in self.accounts:
            raise DuplicateAccount(f"{account_id} is taken")
        self.accounts[account_id] = AccountRecord(account_id, password_hash, now)
        return self.accounts[account_id]

    def get_account(self, account_id: str) -> AccountRecord | None:
        return self.accounts.get(account_id)

    def set_password_hash(self, account_id: str, password_hash: str) -> None:
        self.accounts[account_id] = replace(self._account(account_id), password_hash=password_hash)

    def get_profile(self, account_id: str) -> Profile:
        return self.profiles.get(account_id, Profile())

    def save_profile(self, account_id: str, profile: Profile) -> None:
        self.profiles[account_id] = profile

    def enrol_totp(self, account_id: str, secret: str, now: float) -> None:
        current = self.totp.get(account_id)
        if current is not None and current.enabled:
            raise TotpAlreadyEnabled("already enabled")
        self.totp[account_id] = TotpRecord(account_id, secret, False, None, "", (), now, None)

    def confirm_totp(self, account_id, secret, step, recovery_salt, recovery_hashes, now) -> bool:
        current = self.totp.get(account_id)
        if current is None or current.enabled or current.secret != secret:
            return False
        self.totp[account_id] = replace(
            current, enabled=True, last_used_step=step, recovery_salt=recovery_salt,
            recovery_hashes=tuple(recovery_hashes), confirmed_at=now,
        )
        return True

    def disable_totp(self, account_id: str) -> None:
        self.totp.pop(account_id, None)

    def get_totp(self, account_id: str) -> TotpRecord | None:
        return self.totp.get(account_id)

    def record_totp_step(self, account_id: str, step: int) -> bool:
        current = self.totp.get(account_id)
        if current is None or not current.enabled:
            return False
        if current.last_used_step is not None and step <= current.last_used_step:
            return False
        self.totp[account_id] = replace(current, last_used_step=step)
        return True

    def consume_recovery_code(self, account_id: str, code_hash: str) -> bool:
        current = self.totp.get(account_id)
        if current is None or not current.enabled or code_hash not in current.recovery_hashes:
            return False
        left = tuple(h for h in current.recovery_hashes if h != code_hash)
        self.totp[account_id] = replace(current, recovery_hashes=left)
        return True

    def replace_recovery_codes(self, account_id: str, recovery_salt: str, recovery_hashes: Sequence[str]) -> None:
        current = self.totp[account_id]
        self.totp[account_id] = replace(current, recovery_salt=recovery_salt, recovery_hashes=tuple(recovery_hashes))

    def create_session(self, session: SessionRecord) -> None:
        assert session.session_id not in self.sessions
        self.sessions[session.session_id] = session

    def get_session(self, session_id: str) -> SessionRecord | None:
        return self.sessions.get(session_id)

    def rotate_refresh(self, token: str, now: float, policy: RefreshPolicy) -> tuple[SessionRecord, str]:
        session = self.sessions.get(tokens.refresh_token_family(token))
        if session is None:
            raise TokenInvalid("no such session")
        try:
            family, new_token = tokens.rotate_refresh(session.refresh, token, now, policy)
        except RefreshReuse:
            self.revoke_session(session.session_id, reason="refresh_reuse", now=now)
            raise
        self.sessions[session.session_id] = replace(session, refresh=family, last_seen_at=now)
        return self.sessions[session.session_id], new_token

    def list_sessions(self, account_id: str, *, include_revoked: bool = False) -> list[SessionRecord]:
        found = [s for s in self.sessions.values() if s.account_id == account_id and (include_revoked or not s.revoked)]
        return sorted(found, key=lambda s: s.last_seen_at, reverse=True)

    def revoke_session(self, session_id: str, *, reason: str, now: float, account_id: str | None = None) -> bool:
        session = self.sessions.get(session_id)
        if session is None or session.revoked or (account_id is not None and session.account_id != account_id):
            return False
        self.sessions[session_id] = replace(
            session, revoked=True, revoked_at=now, revoked_reason=reason, refresh=replace(session.refresh, revoked=True)
        )
        return True

    def revoke_other_sessions(self, account_id: str, keep_session_id: str, *, reason: str, now: float) -> int:
        ids = [s.session_id for s in self.list_sessions(account_id) if s.session_id != keep_session_id]
        return sum(self.revoke_session(i, reason=reason, now=now) for i in ids)

    def revoke_all_sessions(self, account_id: str, *, reason: str, now: float) -> int:
        return sum(self.revoke_session(s.session_id, reason=reason, now=now) for s in self.list_sessions(account_id))

    def is_session_active(self, session_id: str, now: float) -> bool:
        session = self.sessions.get(session_id)
        return session is not None and session.is_active(now)

    def revoked_sessions(self, session_ids) -> set[str]:
        return {session_id for session_id in session_ids
                if session_id in self.sessions and self.sessions[session_id].revoked}

    def record_failure(self, account_id: str, address: str, now: float) -> None:
        self.failures.append((account_id, address, now))

    def recent_failures(self, account_id: str, address: str, now: float) -> Failures:
        recent = [f for f in self.failures if f[2] > now - self._throttle.window_s]
        return Failures(
            account=[at for acc, _, at in recent if acc == account_id],
            pair=[at for acc, addr, at in recent if acc == account_id and addr == address],
            address=[at for _, addr, at in recent if addr == address],
        )

    def clear_failures(self, account_id: str, address: str) -> None:
        self.failures = [f for f in self.failures if (f[0], f[1]) != (account_id, address)]

    def _account(self, account_id: str) -> AccountRecord:
        if account_id not in self.accounts:
            raise UnknownAccount(account_id)
        return self.accounts[account_id]
