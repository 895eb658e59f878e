"""The identity use cases, composed from the pure modules over the `IdentityStorePort`.

Blocking (the store blocks and password hashing is CPU work that releases the GIL): a trio caller
runs each call in `trio.to_thread.run_sync(..., limiter=...)`. Errors are `IdentityError`s with
stable codes; the caller writes the audit entry for each outcome (the errors' attributes, such as
`Throttled.rule` and `RefreshReuse.session_id`, are meant for it).

Rules enforced here (docs/identity.md):
- every sign-in step that checks a secret (password, TOTP code, recovery code) is throttled, and
  its failure recorded, whether or not the account exists; unknown accounts cost a full hash too;
- an account holding a role in ROLES_REQUIRING_2FA cannot sign in without confirmed TOTP and
  cannot turn it off (granting such a role without it is refused by svyaz.rbac's `role.grant`,
  which asks `has_confirmed_second_factor`);
- changing a factor needs the password again (and the current code, if 2FA is on), and ends the
  account's other sessions (ASVS 7.4.3).

Identity stores no roles. svyaz.rbac's role assignments are the one source of truth; the service
reads them through the `granted_roles` port, and `ROLES_REQUIRING_2FA` is svyaz.rbac.roles' set
(that module is pure: importing it brings in no trio, casbin or driver).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from svyaz.identity import passwords, recovery, throttle, totp
from svyaz.identity.accounts import AccountId, parse_account_id
from svyaz.identity.errors import (
    BadCredentials,
    ForeignRegion,
    MalformedAccountId,
    RecoveryCodeInvalid,
    SecondFactorRequired,
    SessionRevoked,
    TotpInvalid,
    TotpNotEnrolled,
    TotpReplayed,
    TotpRequired,
)
from svyaz.identity.ports import AccountRecord, IdentityStorePort, SessionRecord, TotpRecord
from svyaz.identity.profile import Profile, apply_changes
from svyaz.identity.recovery import RecoveryCodes
from svyaz.identity.throttle import ThrottlePolicy
from svyaz.identity.tokens import (
    DEFAULT_ACCESS_LIFETIME_S,
    ONE_TIME_PASSWORD,
    PASSWORD,
    AccessClaims,
    AccessGrant,
    Keyring,
    RefreshPolicy,
    issue_access_token,
    new_session_id,
    start_refresh_family,
    verify_access_token,
)
from svyaz.identity.totp import DEFAULT_PARAMS, TotpEnrolment, TotpParams
from svyaz.rbac.roles import ROLES_REQUIRING_2FA
from svyaz.regions import KNOWN_REGIONS

ENROL_HINT = ("set it up with your password (`svyaz 2fa enable`, then `svyaz 2fa confirm`), then sign in "
              "with a code (`svyaz login --totp CODE`)")
RESTART_HINT = "start the enrolment again"


@dataclass(frozen=True)
class IdentityConfig:
    region: str
    password_iterations: int = passwords.DEFAULT_ITERATIONS
    access_lifetime_s: int = DEFAULT_ACCESS_LIFETIME_S
    refresh: RefreshPolicy = field(default_factory=RefreshPolicy)
    throttle: ThrottlePolicy = field(default_factory=ThrottlePolicy)
    totp: TotpParams = DEFAULT_PARAMS

    def __post_init__(self) -> None:
        if self.region not in KNOWN_REGIONS:
            raise ValueError(f"region must be one of {', '.join(KNOWN_REGIONS)}, not {self.region!r}")
        if self.access_lifetime_s < 1:
            raise ValueError(f"access_lifetime_s must be positive, not {self.access_lifetime_s}")


@dataclass(frozen=True)
class TokenPair:
    session_id: str
    access_token: str
    access_expires_at: int
    refresh_token: str
    refresh_expires_at: float  # the sooner of the absolute and the idle expiry


@dataclass(frozen=True)
class LoginResult:
    """No roles: what the account may do is svyaz.rbac's answer at each request, not a sign-in fact."""

    account_id: str
    tokens: TokenPair
    second_factor: str | None  # "totp", "recovery_code" or None
    recovery_codes_left: int | None  # set when a recovery code was used: time to make new ones?


@dataclass(frozen=True)
class Device:
    """Where a sign-in comes from, as the gateway saw it; kept on the session for the session list."""

    address: str
    name: str = ""
    user_agent: str = ""


GrantedRoles = Callable[[str], Collection[str]]
"""account id -> the roles granted to it in its home region (this node's region), from svyaz.rbac.

The node passes `lambda account: policy.index.roles_of(account, region)`. It is called from the
worker thread the service runs in; the role index is safe to read there (every change to it is one
assignment). Until the node's RoleWatcher has started, the index is empty: serve sign-ins only
after it has (docs/identity.md, "Wiring")."""


class IdentityService:
    def __init__(
        self,
        store: IdentityStorePort,
        keyring: Keyring,
        config: IdentityConfig,
        *,
        granted_roles: GrantedRoles,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._keyring = keyring
        self._config = config
        self._granted_roles = granted_roles
        self._clock = clock

    # --- accounts ---------------------------------------------------------------------------------

    def register(self, account_id: str, password: str) -> AccountRecord:
        """A new account. It holds no granted role: every signed-in account is implicitly `user`,
        and other roles are granted with svyaz.rbac's `role.grant` (which wants 2FA for some)."""
        account = self._local_account(account_id)
        passwords.check_password(password, account)
        password_hash = passwords.hash_password(password, iterations=self._config.password_iterations)
        return self._store.create_account(str(account), password_hash, self._clock())

    def profile(self, account_id: str) -> Profile:
        return self._store.get_profile(str(self._local_account(account_id)))

    def update_profile(self, account_id: str, changes: Mapping[str, object]) -> Profile:
        """Apply `changes` (some of display_name, about, presence) whole, or raise InvalidProfile."""
        account = str(self._local_account(account_id))
        updated = apply_changes(self._store.get_profile(account), changes)
        self._store.save_profile(account, updated)
        return updated

    def has_confirmed_second_factor(self, account_id: str) -> bool:
        """Whether `account_id` is an account of this node with TOTP confirmed (a pending enrolment
        does not count). False, not an error, for a malformed, unknown or other region's id: the
        caller (`role.grant`) then refuses, which is the safe answer. StoreUnavailable if the store
        does not answer. Blocking, like every method here."""
        try:
            account = self._local_account(account_id)
        except (MalformedAccountId, ForeignRegion):
            return False
        return self._totp_enabled(self._store.get_totp(str(account)))

    def change_password(
        self,
        account_id: str,
        old_password: str,
        new_password: str,
        *,
        device: Device,
        keep_session_id: str | None = None,
    ) -> None:
        """Needs the old password; ends every other session of the account."""
        account = self._local_account(account_id)
        self._verify_password(str(account), old_password, device.address)
        passwords.check_password(new_password, account)
        self._store.set_password_hash(
            str(account), passwords.hash_password(new_password, iterations=self._config.password_iterations)
        )
        self._end_other_sessions(str(account), keep_session_id, "password_changed")

    # --- sign-in ----------------------------------------------------------------------------------

    def login(
        self,
        account_id: str,
        password: str,
        *,
        device: Device,
        totp_code: str | None = None,
        recovery_code: str | None = None,
    ) -> LoginResult:
        """A new session and its token pair.

        BadCredentials (wrong account or password), Throttled, SecondFactorRequired (a role granted
        to the account needs 2FA it lacks), TotpRequired (give a code), TotpInvalid, TotpReplayed,
        RecoveryCodeInvalid.
        """
        account = str(self._local_account(account_id))
        record = self._verify_password(account, password, device.address)
        totp_record = self._store.get_totp(account)
        second_factor, codes_left = None, None
        if self._totp_enabled(totp_record):
            assert totp_record is not None
            second_factor, codes_left = self._verify_second_factor(
                totp_record, totp_code, recovery_code, device.address
            )
        elif privileged := self._roles_requiring_2fa(account):
            raise SecondFactorRequired(
                f"the role {', '.join(privileged)} of {account} requires two-factor authentication, "
                "and this account has none set up",
                hint=ENROL_HINT,
            )
        now = self._clock()
        self._store.clear_failures(account, device.address)
        if passwords.needs_rehash(record.password_hash, iterations=self._config.password_iterations):
            self._store.set_password_hash(
                account, passwords.hash_password(password, iterations=self._config.password_iterations)
            )
        methods = (PASSWORD, ONE_TIME_PASSWORD) if second_factor else (PASSWORD,)
        tokens = self._start_session(record, device, now, methods)
        return LoginResult(account, tokens, second_factor, codes_left)

    def refresh(self, refresh_token: str) -> TokenPair:
        """The next token pair; RefreshReuse (session revoked), RefreshExpired, SessionRevoked, TokenInvalid."""
        now = self._clock()
        session, new_refresh = self._store.rotate_refresh(refresh_token, now, self._config.refresh)
        record = self._store.get_account(session.account_id)
        if record is None:
            self._store.revoke_session(session.session_id, reason="account_gone", now=now)
            raise SessionRevoked("the account of this session no longer exists")
        return self._pair(record, session, new_refresh, now)

    def authenticate(self, access_token: str, *, check_session: bool = True) -> AccessClaims:
        """The claims of a valid access token. With `check_session`, one store read also makes a
        revoked session fail at once instead of when its token expires."""
        now = self._clock()
        claims = verify_access_token(self._keyring, access_token, now)
        if check_session and not self._store.is_session_active(claims.sid, now):
            raise SessionRevoked("this session has been ended; sign in again")
        return claims

    def revoked_sessions(self, session_ids: Collection[str]) -> set[str]:
        """Which of these sessions have been ended: what a gateway asks, for all its connections
        at once, while they stay open."""
        return self._store.revoked_sessions(session_ids)

    def logout(self, session_id: str, *, account_id: str | None = None) -> bool:
        return self._store.revoke_session(session_id, reason="logout", now=self._clock(), account_id=account_id)

    def logout_others(self, account_id: str, keep_session_id: str) -> int:
        return self._store.revoke_other_sessions(account_id, keep_session_id, reason="logout_others", now=self._clock())

    def list_sessions(self, account_id: str) -> list[SessionRecord]:
        """The account's sessions that can still be refreshed, most recently used first (ASVS 7.5.2)."""
        now = self._clock()
        return [session for session in self._store.list_sessions(account_id) if session.is_active(now)]

    def revoke_session(self, account_id: str, session_id: str) -> bool:
        """End one of the account's own sessions; False if it has no such active session."""
        now = self._clock()
        return self._store.revoke_session(session_id, reason="revoked_by_owner", now=now, account_id=account_id)

    # --- second factor ----------------------------------------------------------------------------

    def begin_totp_enrolment(self, account_id: str, password: str, *, device: Device) -> TotpEnrolment:
        """A new secret (pending until confirmed). Needs the password, not a session, so an account
        whose role needs 2FA can set it up before it can sign in."""
        account = str(self._local_account(account_id))
        self._verify_password(account, password, device.address)
        enrolment = totp.enrol(account, self._config.totp)
        self._store.enrol_totp(account, enrolment.secret, self._clock())
        return enrolment

    def confirm_totp(
        self, account_id: str, password: str, code: str, *, device: Device, keep_session_id: str | None = None
    ) -> RecoveryCodes:
        """Turn 2FA on with the first correct code; returns the recovery codes, to show once."""
        account = str(self._local_account(account_id))
        self._verify_password(account, password, device.address)
        pending = self._store.get_totp(account)
        if pending is None or pending.enabled:
            raise TotpNotEnrolled("there is no pending two-factor enrolment to confirm", hint=RESTART_HINT)
        now = self._clock()
        try:
            step = totp.verify_code(pending.secret, code, now=now, last_used_step=None, params=self._config.totp)
        except TotpInvalid:
            self._store.record_failure(account, device.address, now)
            raise
        codes = recovery.generate()
        if not self._store.confirm_totp(account, pending.secret, step, codes.salt, codes.hashes, now):
            raise TotpNotEnrolled("the enrolment changed while it was being confirmed", hint=RESTART_HINT)
        self._end_other_sessions(account, keep_session_id, "second_factor_changed")
        return codes

    def disable_totp(
        self, account_id: str, password: str, code: str, *, device: Device, keep_session_id: str | None = None
    ) -> None:
        account = str(self._local_account(account_id))
        self._verify_password(account, password, device.address)
        if privileged := self._roles_requiring_2fa(account):
            raise SecondFactorRequired(
                f"two-factor authentication cannot be turned off: the role {', '.join(privileged)} requires it",
                hint="to move 2FA to a new device: an admin removes the role, you turn 2FA off and set it up "
                "again, the admin grants the role back",
            )
        current = self._store.get_totp(account)
        if not self._totp_enabled(current):
            raise TotpNotEnrolled("two-factor authentication is not on for this account")
        assert current is not None
        self._verify_second_factor(current, code, None, device.address)
        self._store.disable_totp(account)
        self._end_other_sessions(account, keep_session_id, "second_factor_changed")

    def regenerate_recovery_codes(self, account_id: str, password: str, code: str, *, device: Device) -> RecoveryCodes:
        """Ten new recovery codes (the old ones stop working); needs the password and a current code."""
        account = str(self._local_account(account_id))
        self._verify_password(account, password, device.address)
        current = self._store.get_totp(account)
        if not self._totp_enabled(current):
            raise TotpNotEnrolled("two-factor authentication is not on for this account")
        assert current is not None
        self._verify_second_factor(current, code, None, device.address)
        codes = recovery.generate()
        self._store.replace_recovery_codes(account, codes.salt, codes.hashes)
        return codes

    # --- internals --------------------------------------------------------------------------------

    def _local_account(self, account_id: str) -> AccountId:
        account = parse_account_id(account_id)
        if account.region != self._config.region:
            raise ForeignRegion(
                f"{account} belongs to region {account.region}; this is the {self._config.region} node",
                hint=f"sign in on the {account.region} node: each region keeps its own accounts",
            )
        return account

    def _verify_password(self, account: str, password: str, address: str) -> AccountRecord:
        now = self._clock()
        throttle.check(self._store.recent_failures(account, address, now), now, self._config.throttle)
        record = self._store.get_account(account)
        # An unknown account costs the same hash as a known one, so timing does not tell them apart.
        matches = passwords.verify_password(password, record.password_hash if record else self._dummy_hash)
        if record is None or not matches:
            self._store.record_failure(account, address, self._clock())
            raise BadCredentials()
        return record

    def _verify_second_factor(
        self, record: TotpRecord, totp_code: str | None, recovery_code: str | None, address: str
    ) -> tuple[str, int | None]:
        account = record.account_id
        if not totp_code and not recovery_code:
            raise TotpRequired(
                "this account uses two-factor authentication: give the code from the authenticator app",
                hint="lost the device? give one of your recovery codes instead",
            )
        now = self._clock()
        try:
            if totp_code:
                step = totp.verify_code(
                    record.secret, totp_code, now=now, last_used_step=record.last_used_step, params=self._config.totp
                )
                if not self._store.record_totp_step(account, step):
                    raise TotpReplayed("this code was already used; wait for the next one")
                return "totp", None
            assert recovery_code is not None
            code_hash = recovery.find(recovery_code, record.recovery_salt, record.recovery_hashes)
            if not self._store.consume_recovery_code(account, code_hash):
                raise RecoveryCodeInvalid("the recovery code is wrong or was already used")
            return "recovery_code", len(record.recovery_hashes) - 1
        except (TotpInvalid, TotpReplayed, RecoveryCodeInvalid):
            self._store.record_failure(account, address, now)
            raise

    def _start_session(self, record: AccountRecord, device: Device, now: float,
                       methods: tuple[str, ...]) -> TokenPair:
        session_id = new_session_id()
        family, refresh_token = start_refresh_family(session_id, now, self._config.refresh)
        session = SessionRecord(
            session_id=session_id,
            account_id=record.account_id,
            device=device.name,
            user_agent=device.user_agent,
            address=device.address,
            created_at=now,
            last_seen_at=now,
            refresh=family,
            methods=methods,
        )
        self._store.create_session(session)
        return self._pair(record, session, refresh_token, now)

    def _pair(self, record: AccountRecord, session: SessionRecord, refresh_token: str, now: float) -> TokenPair:
        lifetime = self._config.access_lifetime_s
        access = issue_access_token(
            self._keyring.signing_key,
            AccessGrant(sub=record.account_id, sid=session.session_id, amr=session.methods),
            now,
            lifetime_s=lifetime,
        )
        return TokenPair(
            session_id=session.session_id,
            access_token=access,
            access_expires_at=int(now) + lifetime,
            refresh_token=refresh_token,
            refresh_expires_at=min(session.refresh.expires_at, session.refresh.idle_expires_at),
        )

    def _end_other_sessions(self, account: str, keep_session_id: str | None, reason: str) -> None:
        now = self._clock()
        if keep_session_id is None:
            self._store.revoke_all_sessions(account, reason=reason, now=now)
        else:
            self._store.revoke_other_sessions(account, keep_session_id, reason=reason, now=now)

    def _roles_requiring_2fa(self, account: str) -> tuple[str, ...]:
        """The roles granted to `account` here (svyaz.rbac, via the port) that need 2FA, sorted."""
        return tuple(sorted(set(self._granted_roles(account)) & ROLES_REQUIRING_2FA))

    @staticmethod
    def _totp_enabled(record: TotpRecord | None) -> bool:
        return record is not None and record.enabled

    @cached_property
    def _dummy_hash(self) -> str:
        return passwords.hash_password("not a password anyone has", iterations=self._config.password_iterations)

