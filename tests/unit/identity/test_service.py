"""The identity use cases over an in-memory store: sign-in rules, 2FA, throttling, sessions, tokens.

Granted roles are svyaz.rbac's; here the `granted_roles` port is a dict the tests fill in, as the
role index would be (tests/integration/rbac/test_second_factor.py wires the real index)."""

from __future__ import annotations

import pytest

from svyaz.identity import passwords
from svyaz.identity.errors import (
    BadCredentials,
    DuplicateAccount,
    ForeignRegion,
    RecoveryCodeInvalid,
    RefreshReuse,
    SecondFactorRequired,
    SessionRevoked,
    Throttled,
    TokenInvalid,
    TotpAlreadyEnabled,
    TotpInvalid,
    TotpNotEnrolled,
    TotpReplayed,
    TotpRequired,
    WeakPassword,
)
from svyaz.identity.service import Device, IdentityConfig, IdentityService
from svyaz.rbac.roles import ROLES_REQUIRING_2FA
from svyaz.identity.tokens import Keyring, verify_access_token
from svyaz.identity.totp import code_at, time_step

from .fakes import FakeIdentityStore

ALICE = "@alice:ru"
PASSWORD = "correct horse battery"
HOME = Device(address="10.0.0.1", name="laptop", user_agent="svyaz-cli/0.1")
KEYRING = Keyring("k1", {"k1": b"\x07" * 32})


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store():
    return FakeIdentityStore()


@pytest.fixture
def granted():
    """account -> roles granted in its home region: what svyaz.rbac's role index would answer."""
    return {}


def make_service(store, clock, granted, *, keyring=KEYRING, iterations=2):
    config = IdentityConfig(region="ru", password_iterations=iterations)
    return IdentityService(
        store, keyring, config, granted_roles=lambda account: granted.get(account, frozenset()), clock=clock
    )


@pytest.fixture
def service(store, clock, granted):
    return make_service(store, clock, granted)


@pytest.fixture
def alice(service):
    service.register(ALICE, PASSWORD)
    return ALICE


def enable_totp(service, clock, account=ALICE):
    enrolment = service.begin_totp_enrolment(account, PASSWORD, device=HOME)
    codes = service.confirm_totp(account, PASSWORD, code_at(enrolment.secret, time_step(clock.now)), device=HOME)
    clock.advance(30)  # the confirming code's step is spent
    return enrolment.secret, codes


def current_code(secret, clock):
    return code_at(secret, time_step(clock.now))


# --- registration -----------------------------------------------------------------------------------


def test_register_stores_a_hash_not_the_password(service, store):
    record = service.register(ALICE, PASSWORD)

    assert record == store.accounts[ALICE]
    assert PASSWORD not in store.accounts[ALICE].password_hash
    assert passwords.verify_password(PASSWORD, store.accounts[ALICE].password_hash)


def test_a_taken_name_is_refused(service, alice):
    with pytest.raises(DuplicateAccount) as caught:
        service.register(ALICE, "another good passphrase")
    assert caught.value.code == "taken_name"


def test_a_weak_password_is_refused_at_registration(service):
    with pytest.raises(WeakPassword):
        service.register(ALICE, "alice-is-great-2024")


def test_another_regions_account_is_refused(service):
    with pytest.raises(ForeignRegion, match="this is the ru node") as caught:
        service.register("@alice:by", PASSWORD)
    assert "by node" in caught.value.hint


# --- sign-in ----------------------------------------------------------------------------------------


def test_login_opens_a_session_with_a_token_pair(service, store, alice, clock):
    result = service.login(ALICE, PASSWORD, device=HOME)

    claims = verify_access_token(KEYRING, result.tokens.access_token, clock.now)
    assert (claims.sub, claims.sid) == (ALICE, result.tokens.session_id)
    assert result.tokens.access_expires_at == int(clock.now) + 300
    session = store.sessions[result.tokens.session_id]
    assert (session.device, session.address, session.user_agent) == ("laptop", "10.0.0.1", "svyaz-cli/0.1")
    assert result.second_factor is None
    assert service.authenticate(result.tokens.access_token).sub == ALICE


def test_wrong_password_and_unknown_account_look_the_same(service, store, alice):
    with pytest.raises(BadCredentials) as wrong_password:
        service.login(ALICE, "not the password at all", device=HOME)
    with pytest.raises(BadCredentials) as unknown:
        service.login("@mallory:ru", PASSWORD, device=HOME)

    assert str(wrong_password.value) == str(unknown.value)
    assert wrong_password.value.code == unknown.value.code == "bad_credentials"
    assert [(account, address) for account, address, _ in store.failures] == [
        (ALICE, "10.0.0.1"), ("@mallory:ru", "10.0.0.1")
    ]


def test_after_five_failures_the_next_attempt_waits_even_with_the_right_password(service, alice, clock):
    for _ in range(5):
        with pytest.raises(BadCredentials):
            service.login(ALICE, "not the password at all", device=HOME)
    with pytest.raises(Throttled) as caught:
        service.login(ALICE, PASSWORD, device=HOME)
    assert caught.value.retry_after_s == 1

    clock.advance(1)
    service.login(ALICE, PASSWORD, device=HOME)


def test_success_resets_the_address_counter(service, store, alice, clock):
    for _ in range(4):
        with pytest.raises(BadCredentials):
            service.login(ALICE, "not the password at all", device=HOME)
    service.login(ALICE, PASSWORD, device=HOME)
    for _ in range(4):
        with pytest.raises(BadCredentials):
            service.login(ALICE, "not the password at all", device=HOME)

    service.login(ALICE, PASSWORD, device=HOME)  # 4 failures since the success: no delay yet


def test_the_101st_failure_is_throttled_but_the_owner_from_a_clean_address_gets_in(service, alice, clock):
    for n in range(100):  # a botnet: one guess from each of 100 addresses
        with pytest.raises(BadCredentials):
            service.login(ALICE, f"guess number {n}!", device=Device(address=f"198.51.100.{n}"))
        clock.advance(30)

    with pytest.raises(Throttled) as caught:  # the 101st, from an address that already failed
        service.login(ALICE, "guess number 100!", device=Device(address="198.51.100.7"))
    assert caught.value.rule == "account"

    assert service.login(ALICE, PASSWORD, device=HOME).account_id == ALICE


def test_an_unknown_account_is_throttled_like_a_known_one(service, clock):
    for _ in range(5):
        with pytest.raises(BadCredentials):
            service.login("@nobody:ru", "not the password at all", device=HOME)
    with pytest.raises(Throttled):
        service.login("@nobody:ru", "not the password at all", device=HOME)


def test_login_upgrades_an_old_hash_to_the_configured_iterations(store, clock, granted, alice):
    stronger = make_service(store, clock, granted, iterations=3)
    stronger.login(ALICE, PASSWORD, device=HOME)
    assert store.accounts[ALICE].password_hash.split("$")[1] == "3"


# --- second factor ------------------------------------------------------------------------------------


def test_enrolment_gives_ten_recovery_codes_and_then_a_code_is_required(service, alice, clock):
    secret, codes = enable_totp(service, clock)
    assert len(codes.codes) == 10

    with pytest.raises(TotpRequired) as caught:
        service.login(ALICE, PASSWORD, device=HOME)
    assert "recovery code" in caught.value.hint

    result = service.login(ALICE, PASSWORD, device=HOME, totp_code=current_code(secret, clock))
    assert result.second_factor == "totp"


def test_the_session_and_its_tokens_say_whether_a_second_factor_signed_in(service, alice, clock):
    password_only = service.login(ALICE, PASSWORD, device=HOME).tokens
    assert service.authenticate(password_only.access_token).amr == ("pwd",)

    secret, codes = enable_totp(service, clock)
    with_code = service.login(ALICE, PASSWORD, device=HOME, totp_code=current_code(secret, clock)).tokens
    assert service.authenticate(with_code.access_token).amr == ("otp", "pwd")
    clock.advance(60)
    # A refreshed token keeps the methods of the sign-in it continues.
    assert service.authenticate(service.refresh(with_code.refresh_token).access_token).amr == ("otp", "pwd")
    with_recovery = service.login(ALICE, PASSWORD, device=HOME, recovery_code=codes.codes[0]).tokens
    assert service.authenticate(with_recovery.access_token).amr == ("otp", "pwd")


def test_a_totp_code_works_once(service, alice, clock):
    secret, _ = enable_totp(service, clock)
    code = current_code(secret, clock)
    service.login(ALICE, PASSWORD, device=HOME, totp_code=code)

    with pytest.raises(TotpReplayed):
        service.login(ALICE, PASSWORD, device=Device(address="10.0.0.2"), totp_code=code)


def test_a_wrong_totp_code_counts_as_a_failure(service, store, alice, clock):
    secret, _ = enable_totp(service, clock)
    wrong = f"{(int(current_code(secret, clock)) + 500_000) % 1_000_000:06d}"

    with pytest.raises(TotpInvalid):
        service.login(ALICE, PASSWORD, device=HOME, totp_code=wrong)
    assert store.recent_failures(ALICE, HOME.address, clock.now).pair


def test_a_recovery_code_signs_in_once(service, alice, clock):
    _, codes = enable_totp(service, clock)

    result = service.login(ALICE, PASSWORD, device=HOME, recovery_code=codes.codes[0].lower())
    assert (result.second_factor, result.recovery_codes_left) == ("recovery_code", 9)
    with pytest.raises(RecoveryCodeInvalid):
        service.login(ALICE, PASSWORD, device=HOME, recovery_code=codes.codes[0])


def test_confirming_with_a_wrong_code_leaves_2fa_off(service, store, alice, clock):
    enrolment = service.begin_totp_enrolment(ALICE, PASSWORD, device=HOME)
    wrong = f"{(int(current_code(enrolment.secret, clock)) + 500_000) % 1_000_000:06d}"
    with pytest.raises(TotpInvalid):
        service.confirm_totp(ALICE, PASSWORD, wrong, device=HOME)
    assert not store.totp[ALICE].enabled
    service.login(ALICE, PASSWORD, device=HOME)  # still no code needed


def test_enrolment_needs_the_password(service, alice):
    with pytest.raises(BadCredentials):
        service.begin_totp_enrolment(ALICE, "not the password at all", device=HOME)


def test_a_second_enrolment_needs_the_first_turned_off(service, alice, clock):
    secret, _ = enable_totp(service, clock)
    with pytest.raises(TotpAlreadyEnabled):
        service.begin_totp_enrolment(ALICE, PASSWORD, device=HOME)

    service.disable_totp(ALICE, PASSWORD, current_code(secret, clock), device=HOME)
    service.begin_totp_enrolment(ALICE, PASSWORD, device=HOME)


def test_confirming_without_an_enrolment_is_refused(service, alice):
    with pytest.raises(TotpNotEnrolled):
        service.confirm_totp(ALICE, PASSWORD, "123456", device=HOME)


@pytest.mark.parametrize("role", sorted(ROLES_REQUIRING_2FA))
def test_a_privileged_role_cannot_sign_in_without_2fa_and_is_told_why(service, store, granted, alice, role):
    granted[ALICE] = frozenset({role, "moderator"})  # e.g. put in the store by the operator

    with pytest.raises(SecondFactorRequired) as caught:
        service.login(ALICE, PASSWORD, device=HOME)
    assert role in str(caught.value) and "two-factor" in str(caught.value)
    assert "moderator" not in str(caught.value)  # only the role that needs it is named
    assert "svyaz 2fa enable" in caught.value.hint
    assert caught.value.code == "second_factor_required"
    assert store.sessions == {}


def test_the_2fa_rule_is_checked_after_the_password(service, granted, alice):
    granted[ALICE] = frozenset({"admin"})
    with pytest.raises(BadCredentials):  # a wrong password learns nothing about the account's roles
        service.login(ALICE, "not the password at all", device=HOME)


def test_a_moderator_needs_no_second_factor(service, granted, alice):
    granted[ALICE] = frozenset({"moderator"})
    assert service.login(ALICE, PASSWORD, device=HOME).second_factor is None


def test_a_privileged_account_sets_up_2fa_with_its_password_then_signs_in(service, granted, alice, clock):
    granted[ALICE] = frozenset({"auditor"})
    secret, _ = enable_totp(service, clock)

    result = service.login(ALICE, PASSWORD, device=HOME, totp_code=current_code(secret, clock))
    assert (result.account_id, result.second_factor) == (ALICE, "totp")


def test_has_confirmed_second_factor_only_once_a_code_confirmed_it(service, alice, clock):
    assert not service.has_confirmed_second_factor(ALICE)
    enrolment = service.begin_totp_enrolment(ALICE, PASSWORD, device=HOME)
    assert not service.has_confirmed_second_factor(ALICE)  # pending is not confirmed
    service.confirm_totp(ALICE, PASSWORD, current_code(enrolment.secret, clock), device=HOME)
    assert service.has_confirmed_second_factor(ALICE)

    clock.advance(30)
    service.disable_totp(ALICE, PASSWORD, current_code(enrolment.secret, clock), device=HOME)
    assert not service.has_confirmed_second_factor(ALICE)


@pytest.mark.parametrize("account", ["@nobody:ru", "@alice:by", "alice", "@Alice:ru"])
def test_has_confirmed_second_factor_is_false_for_accounts_it_cannot_vouch_for(service, alice, clock, account):
    enable_totp(service, clock)
    assert service.has_confirmed_second_factor(account) is False


def test_a_privileged_account_cannot_turn_2fa_off_until_the_role_is_revoked(service, granted, alice, clock):
    secret, _ = enable_totp(service, clock)
    granted[ALICE] = frozenset({"admin"})
    with pytest.raises(SecondFactorRequired, match="cannot be turned off") as caught:
        service.disable_totp(ALICE, PASSWORD, current_code(secret, clock), device=HOME)
    assert "admin" in str(caught.value) and "removes the role" in caught.value.hint
    assert service.has_confirmed_second_factor(ALICE)

    granted[ALICE] = frozenset()  # the admin revoked it: moving 2FA to a new phone can proceed
    service.disable_totp(ALICE, PASSWORD, current_code(secret, clock), device=HOME)
    assert not service.has_confirmed_second_factor(ALICE)


def test_new_recovery_codes_replace_the_old_ones(service, alice, clock):
    secret, old = enable_totp(service, clock)
    new = service.regenerate_recovery_codes(ALICE, PASSWORD, current_code(secret, clock), device=HOME)

    with pytest.raises(RecoveryCodeInvalid):
        service.login(ALICE, PASSWORD, device=HOME, recovery_code=old.codes[0])
    assert service.login(ALICE, PASSWORD, device=HOME, recovery_code=new.codes[0]).recovery_codes_left == 9


# --- sessions and tokens ------------------------------------------------------------------------------


def test_refresh_rotates_and_a_replayed_refresh_token_ends_the_session(service, alice, clock):
    first = service.login(ALICE, PASSWORD, device=HOME).tokens
    clock.advance(60)
    second = service.refresh(first.refresh_token)
    assert second.session_id == first.session_id and second.refresh_token != first.refresh_token

    with pytest.raises(RefreshReuse):
        service.refresh(first.refresh_token)  # the thief, or the victim after the thief
    with pytest.raises(SessionRevoked):
        service.refresh(second.refresh_token)
    with pytest.raises(SessionRevoked):
        service.authenticate(second.access_token)
    assert service.authenticate(second.access_token, check_session=False).sid == first.session_id


def test_role_changes_touch_neither_sessions_nor_tokens(service, granted, alice, clock):
    # Tokens carry no roles and the guard reads the role index at every check, so granting or
    # revoking a role needs no session to end and no token to be refreshed.
    tokens = service.login(ALICE, PASSWORD, device=HOME).tokens
    granted[ALICE] = frozenset({"moderator"})
    clock.advance(10)
    refreshed = service.refresh(tokens.refresh_token)
    granted[ALICE] = frozenset()
    clock.advance(10)
    again = service.refresh(refreshed.refresh_token)

    claims = service.authenticate(again.access_token)
    assert (claims.sub, claims.sid) == (ALICE, tokens.session_id)
    assert [s.session_id for s in service.list_sessions(ALICE)] == [tokens.session_id]


def test_logout_ends_the_session(service, alice):
    tokens = service.login(ALICE, PASSWORD, device=HOME).tokens
    assert service.logout(tokens.session_id)
    with pytest.raises(SessionRevoked):
        service.refresh(tokens.refresh_token)
    assert not service.logout(tokens.session_id)


def test_sessions_are_listed_and_one_can_be_ended_only_by_its_owner(service, alice, clock):
    service.register("@bob:ru", PASSWORD)
    laptop = service.login(ALICE, PASSWORD, device=HOME).tokens
    clock.advance(5)
    phone = service.login(ALICE, PASSWORD, device=Device(address="10.0.0.9", name="phone")).tokens

    assert [s.device for s in service.list_sessions(ALICE)] == ["phone", "laptop"]
    assert not service.revoke_session("@bob:ru", phone.session_id)
    assert service.revoke_session(ALICE, phone.session_id)
    assert [s.session_id for s in service.list_sessions(ALICE)] == [laptop.session_id]


def test_logout_others_keeps_this_session(service, alice):
    keep = service.login(ALICE, PASSWORD, device=HOME).tokens
    other = service.login(ALICE, PASSWORD, device=HOME).tokens
    assert service.logout_others(ALICE, keep.session_id) == 1
    assert [s.session_id for s in service.list_sessions(ALICE)] == [keep.session_id]
    with pytest.raises(SessionRevoked):
        service.refresh(other.refresh_token)


def test_changing_the_password_ends_the_other_sessions(service, alice):
    keep = service.login(ALICE, PASSWORD, device=HOME).tokens
    other = service.login(ALICE, PASSWORD, device=HOME).tokens

    service.change_password(
        ALICE, PASSWORD, "a different long passphrase", device=HOME, keep_session_id=keep.session_id
    )

    with pytest.raises(BadCredentials):
        service.login(ALICE, PASSWORD, device=HOME)
    service.login(ALICE, "a different long passphrase", device=HOME)
    with pytest.raises(SessionRevoked):
        service.refresh(other.refresh_token)
    service.refresh(keep.refresh_token)


def test_a_refresh_after_the_account_is_gone_ends_the_session(service, store, alice):
    tokens = service.login(ALICE, PASSWORD, device=HOME).tokens
    del store.accounts[ALICE]
    with pytest.raises(SessionRevoked):
        service.refresh(tokens.refresh_token)
    assert store.sessions[tokens.session_id].revoked_reason == "account_gone"


def test_a_garbage_refresh_token_is_invalid(service):
    with pytest.raises(TokenInvalid):
        service.refresh("not-a-token")


def test_an_access_token_signed_elsewhere_is_invalid(store, clock, granted, alice):
    other = make_service(store, clock, granted, keyring=Keyring("k1", {"k1": b"\x08" * 32}))
    tokens = other.login(ALICE, PASSWORD, device=HOME).tokens
    mine = make_service(store, clock, granted)
    with pytest.raises(TokenInvalid):
        mine.authenticate(tokens.access_token)

