"""The identity store against the ru region's real FerretDB: every operation, and the races that
must leave exactly one winner without transactions (TOTP step, recovery code, refresh rotation)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from pymongo import MongoClient

from svyaz.identity import recovery, tokens
from svyaz.identity.errors import (
    DuplicateAccount,
    RefreshReuse,
    SessionRevoked,
    StoreUnavailable,
    TokenInvalid,
    TotpAlreadyEnabled,
    UnknownAccount,
)
from svyaz.identity.ports import SessionRecord
from svyaz.identity.store import IdentityStore
from svyaz.identity.throttle import ThrottlePolicy
from svyaz.identity.tokens import RefreshPolicy

NOW = 1_700_000_000.0
ALICE = "@alice:ru"
RACERS = 8
POLICY = RefreshPolicy()


@pytest.fixture
def database(stack, test_id):
    client = MongoClient(stack.mongo("ru"), serverSelectionTimeoutMS=5000)
    yield client[f"{test_id}_core"]
    client.drop_database(f"{test_id}_core")
    client.close()


@pytest.fixture
def store(database):
    store = IdentityStore(database, throttle=ThrottlePolicy(window_s=3600, account_limit=5, address_limit=5))
    store.ensure_indexes()
    store.ensure_indexes()  # idempotent
    return store


def race(count, action):
    """Run `action(i)` in `count` threads released together; the results (or exceptions) in order."""
    barrier = threading.Barrier(count)

    def run(i):
        barrier.wait()
        try:
            return action(i)
        except Exception as err:  # noqa: BLE001 - the race's outcome is what the test inspects
            return err

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def new_session(store, account=ALICE, *, now=NOW, device="laptop", methods=("pwd",)):
    session_id = tokens.new_session_id()
    family, token = tokens.start_refresh_family(session_id, now, POLICY)
    record = SessionRecord(session_id, account, device, "svyaz-cli/0.1", "10.0.0.1", now, now, family, methods)
    store.create_session(record)
    return record, token


# --- accounts -------------------------------------------------------------------------------------


def test_accounts_are_created_read_and_updated(store, database):
    created = store.create_account(ALICE, "pbkdf2-streebog512$1$AA$AA", NOW)
    assert store.get_account(ALICE) == created
    assert store.get_account("@nobody:ru") is None

    store.set_password_hash(ALICE, "pbkdf2-streebog512$2$BB$BB")
    updated = store.get_account(ALICE)
    assert (updated.password_hash, updated.created_at) == ("pbkdf2-streebog512$2$BB$BB", NOW)
    # Roles are svyaz.rbac's role_assignments alone: the identity store writes nothing about them.
    assert database["accounts"].find_one({"_id": ALICE}).keys() == {"_id", "password_hash", "created_at"}
    assert not [name for name in database.list_collection_names() if "role" in name]


def test_a_taken_account_id_is_a_duplicate_even_when_racing(store):
    outcomes = race(RACERS, lambda i: store.create_account(ALICE, f"hash-{i}", NOW))

    assert sum(not isinstance(o, Exception) for o in outcomes) == 1
    assert all(isinstance(o, DuplicateAccount) for o in outcomes if isinstance(o, Exception))


def test_updating_an_unknown_account_says_so(store):
    with pytest.raises(UnknownAccount):
        store.set_password_hash("@nobody:ru", "x")


# --- TOTP and recovery codes ----------------------------------------------------------------------


def enabled_totp(store, *, step=100):
    codes = recovery.generate()
    store.enrol_totp(ALICE, "SECRETSECRETSECRETSECRETSECRETSE", NOW)
    assert store.confirm_totp(ALICE, "SECRETSECRETSECRETSECRETSECRETSE", step, codes.salt, codes.hashes, NOW)
    return codes


FIRST, SECOND, THIRD = "A" * 32, "B" * 32, "C" * 32


def test_enrolment_is_pending_until_confirmed_and_can_be_replaced_until_then(store):
    store.enrol_totp(ALICE, FIRST, NOW)
    store.enrol_totp(ALICE, SECOND, NOW + 1)
    pending = store.get_totp(ALICE)
    assert (pending.secret, pending.enabled, pending.last_used_step) == (SECOND, False, None)

    assert not store.record_totp_step(ALICE, 5)  # nothing to record against while pending
    assert not store.confirm_totp(ALICE, FIRST, 7, "c2FsdA==", ["h1"], NOW)
    assert store.confirm_totp(ALICE, SECOND, 7, "c2FsdA==", ["h1", "h2"], NOW + 2)
    confirmed = store.get_totp(ALICE)
    assert (confirmed.enabled, confirmed.last_used_step, confirmed.recovery_hashes) == (True, 7, ("h1", "h2"))
    assert confirmed.confirmed_at == NOW + 2

    with pytest.raises(TotpAlreadyEnabled):
        store.enrol_totp(ALICE, THIRD, NOW + 3)
    assert store.get_totp(ALICE).secret == SECOND

    store.disable_totp(ALICE)
    assert store.get_totp(ALICE) is None


def test_totp_steps_only_move_forward(store):
    enabled_totp(store, step=100)

    assert not store.record_totp_step(ALICE, 100)
    assert not store.record_totp_step(ALICE, 99)
    assert store.record_totp_step(ALICE, 101)
    assert not store.record_totp_step(ALICE, 101)
    assert store.record_totp_step(ALICE, 103)
    assert store.get_totp(ALICE).last_used_step == 103


def test_racing_the_same_totp_step_has_exactly_one_winner(store):
    enabled_totp(store, step=100)
    for step in range(101, 106):
        outcomes = race(RACERS, lambda _: store.record_totp_step(ALICE, step))
        assert outcomes.count(True) == 1, (step, outcomes)
    assert store.get_totp(ALICE).last_used_step == 105


def test_a_recovery_code_is_consumed_once(store):
    codes = enabled_totp(store)
    first = codes.hashes[0]

    assert store.consume_recovery_code(ALICE, first)
    assert not store.consume_recovery_code(ALICE, first)
    assert store.get_totp(ALICE).recovery_hashes == codes.hashes[1:]


def test_racing_the_same_recovery_code_has_exactly_one_winner(store):
    codes = enabled_totp(store)
    outcomes = race(RACERS, lambda _: store.consume_recovery_code(ALICE, codes.hashes[4]))

    assert outcomes.count(True) == 1, outcomes
    assert len(store.get_totp(ALICE).recovery_hashes) == 9


def test_recovery_codes_can_be_replaced(store):
    enabled_totp(store)
    fresh = recovery.generate()
    store.replace_recovery_codes(ALICE, fresh.salt, fresh.hashes)

    stored = store.get_totp(ALICE)
    assert (stored.recovery_salt, stored.recovery_hashes) == (fresh.salt, fresh.hashes)
    assert recovery.find(fresh.codes[2], stored.recovery_salt, stored.recovery_hashes) == fresh.hashes[2]


# --- sessions -------------------------------------------------------------------------------------


def test_a_session_is_stored_and_read_back_whole(store):
    record, _ = new_session(store)
    assert store.get_session(record.session_id) == record
    assert store.get_session("no-such-session-id-at-all") is None
    assert store.is_session_active(record.session_id, NOW + 1)
    assert not store.is_session_active(record.session_id, NOW + POLICY.idle_s)


def test_a_session_keeps_how_it_signed_in(store):
    with_otp, _ = new_session(store, methods=("otp", "pwd"))
    assert store.get_session(with_otp.session_id).methods == ("otp", "pwd")


def test_revoked_sessions_answers_for_many_sessions_at_once(store):
    live, _ = new_session(store)
    revoked, _ = new_session(store)
    other, _ = new_session(store, "@bob:ru")
    store.revoke_session(revoked.session_id, reason="logout", now=NOW)
    store.revoke_session(other.session_id, reason="logout", now=NOW)
    asked = [live.session_id, revoked.session_id, "no-such-session-id-at-all"]
    assert store.revoked_sessions(asked) == {revoked.session_id}
    assert store.revoked_sessions([]) == set()


def test_sessions_are_listed_newest_activity_first_and_revoked_ones_hidden(store):
    old, _ = new_session(store, now=NOW, device="old laptop")
    new, _ = new_session(store, now=NOW + 10, device="phone")
    new_session(store, "@bob:ru", now=NOW + 20)

    assert [s.device for s in store.list_sessions(ALICE)] == ["phone", "old laptop"]
    assert store.revoke_session(old.session_id, reason="logout", now=NOW + 30)
    assert [s.session_id for s in store.list_sessions(ALICE)] == [new.session_id]
    revoked = [s for s in store.list_sessions(ALICE, include_revoked=True) if s.revoked]
    assert [(s.session_id, s.revoked_at, s.revoked_reason, s.refresh.revoked) for s in revoked] == [
        (old.session_id, NOW + 30, "logout", True)
    ]
    assert not store.is_session_active(old.session_id, NOW + 31)


def test_revoking_twice_or_someone_elses_session_does_nothing(store):
    mine, _ = new_session(store)
    assert not store.revoke_session(mine.session_id, reason="x", now=NOW, account_id="@bob:ru")
    assert store.revoke_session(mine.session_id, reason="x", now=NOW, account_id=ALICE)
    assert not store.revoke_session(mine.session_id, reason="x", now=NOW)


def test_revoke_other_and_all_sessions(store):
    keep, _ = new_session(store)
    new_session(store)
    new_session(store)
    bobs, _ = new_session(store, "@bob:ru")

    assert store.revoke_other_sessions(ALICE, keep.session_id, reason="password_changed", now=NOW) == 2
    assert [s.session_id for s in store.list_sessions(ALICE)] == [keep.session_id]
    assert store.revoke_all_sessions(ALICE, reason="logout_everywhere", now=NOW) == 1
    assert store.list_sessions(ALICE) == []
    assert store.is_session_active(bobs.session_id, NOW)


def test_refresh_rotates_generation_by_generation(store):
    record, token = new_session(store)
    session, token2 = store.rotate_refresh(token, NOW + 60, POLICY)
    session, token3 = store.rotate_refresh(token2, NOW + 120, POLICY)

    assert session.refresh.generation == 3
    assert session.refresh.token_hash == tokens.hash_refresh_token(token3)
    assert session.refresh.spent_hashes == (tokens.hash_refresh_token(token), tokens.hash_refresh_token(token2))
    assert session.last_seen_at == NOW + 120
    assert store.get_session(record.session_id) == session


def test_a_spent_refresh_token_revokes_the_session(store):
    record, token = new_session(store)
    _, token2 = store.rotate_refresh(token, NOW + 60, POLICY)

    with pytest.raises(RefreshReuse) as caught:
        store.rotate_refresh(token, NOW + 61, POLICY)
    assert caught.value.session_id == record.session_id
    assert store.get_session(record.session_id).revoked_reason == "refresh_reuse"
    with pytest.raises(SessionRevoked):
        store.rotate_refresh(token2, NOW + 62, POLICY)


def test_a_guessed_refresh_token_neither_rotates_nor_revokes(store):
    record, token = new_session(store)
    with pytest.raises(TokenInvalid):
        store.rotate_refresh(f"{record.session_id}.{'A' * 43}", NOW + 1, POLICY)
    with pytest.raises(TokenInvalid):
        store.rotate_refresh(f"{tokens.new_session_id()}.{'A' * 43}", NOW + 1, POLICY)
    store.rotate_refresh(token, NOW + 2, POLICY)


@pytest.mark.parametrize("racers", [2, RACERS])
def test_racing_one_refresh_token_rotates_at_most_once_and_revokes_the_session(store, database, racers):
    """Whoever loses the claim on the generation sees reuse and revokes the session. The one that
    claimed it either finished first (and its new token is now dead) or saw the revocation land
    and refused; either way no racer is left holding a live session."""
    for round_ in range(3):
        record, token = new_session(store)
        outcomes = race(racers, lambda _: store.rotate_refresh(token, NOW + 60, POLICY))
        kinds = [type(o).__name__ for o in outcomes]

        rotated = [o for o in outcomes if isinstance(o, tuple)]
        assert len(rotated) <= 1, (round_, kinds)
        assert set(kinds) <= {"tuple", "RefreshReuse", "SessionRevoked"}, (round_, kinds)
        assert "RefreshReuse" in kinds, (round_, kinds)
        assert database["refresh_spent"].count_documents({"session": record.session_id}) == 1
        session = store.get_session(record.session_id)
        assert (session.revoked, session.revoked_reason) == (True, "refresh_reuse")
        for _, new_token in rotated:
            with pytest.raises(SessionRevoked):
                store.rotate_refresh(new_token, NOW + 61, POLICY)


def test_a_racer_whose_generation_marker_was_pruned_is_still_reuse(store, database, monkeypatch):
    record, token = new_session(store)
    stale = store.get_session(record.session_id)  # what a racer read before it stalled
    current = token
    for step in range(3):
        _, current = store.rotate_refresh(current, NOW + step, POLICY)
    assert database["refresh_spent"].count_documents({"session": record.session_id, "generation": 1}) == 0

    # The stalled racer resumes with its stale read: its claim on generation 1 now succeeds...
    reads = iter([stale])
    real_get_session = store.get_session
    monkeypatch.setattr(store, "get_session", lambda sid: next(reads, None) or real_get_session(sid))
    # ...but the session has moved on since, so it is reuse, and the session ends.
    with pytest.raises(RefreshReuse):
        store.rotate_refresh(token, NOW + 10, POLICY)
    monkeypatch.undo()
    assert store.get_session(record.session_id).revoked
    with pytest.raises(SessionRevoked):
        store.rotate_refresh(current, NOW + 11, POLICY)


# --- sign-in failures -----------------------------------------------------------------------------


def test_failures_are_counted_per_account_pair_and_address(store):
    store.record_failure(ALICE, "10.0.0.1", NOW)
    store.record_failure(ALICE, "10.0.0.2", NOW + 1)
    store.record_failure("@bob:ru", "10.0.0.1", NOW + 2)

    failures = store.recent_failures(ALICE, "10.0.0.1", NOW + 3)
    assert sorted(failures.account) == [NOW, NOW + 1]
    assert list(failures.pair) == [NOW]
    assert sorted(failures.address) == [NOW, NOW + 2]

    store.clear_failures(ALICE, "10.0.0.1")
    failures = store.recent_failures(ALICE, "10.0.0.1", NOW + 3)
    assert (list(failures.account), list(failures.pair), sorted(failures.address)) == ([NOW + 1], [], [NOW + 2])


def test_only_the_newest_failures_up_to_the_limit_are_read(store):
    for i in range(8):
        store.record_failure(ALICE, "10.0.0.1", NOW + i)
    failures = store.recent_failures(ALICE, "10.0.0.1", NOW + 10)
    assert list(failures.account) == [NOW + i for i in range(7, 2, -1)]  # account_limit=5, newest first
    assert len(failures.pair) == 8


def test_failures_older_than_the_window_are_pruned_on_write(store, database):
    store.record_failure(ALICE, "10.0.0.1", NOW)
    store.record_failure("@bob:ru", "10.0.0.9", NOW + 10)
    store.record_failure(ALICE, "10.0.0.1", NOW + 3600 + 5)  # NOW's entry is now out of the window

    assert sorted(d["at"] for d in database["auth_failures"].find()) == [NOW + 10, NOW + 3605]
    assert list(store.recent_failures(ALICE, "10.0.0.1", NOW + 3606).account) == [NOW + 3605]


def test_an_unreachable_store_is_a_typed_error():
    client = MongoClient("mongodb://127.0.0.1:9/", serverSelectionTimeoutMS=300, connectTimeoutMS=300)
    try:
        with pytest.raises(StoreUnavailable, match="get_account"):
            IdentityStore(client["nowhere_core"]).get_account(ALICE)
    finally:
        client.close()
