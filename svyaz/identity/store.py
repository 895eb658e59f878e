"""The identity store over the region's core database (`<prefix>_core`), with pymongo.

Blocking: the caller runs every method in `trio.to_thread.run_sync(..., limiter=...)`.

FerretDB 1.24 applies an update by reading the document and writing it back whole, outside any
transaction (FerretDB/FerretDB#3040, measured in tests/integration/identity): a filtered update
is not a compare-and-set (eight racers on one `find_one_and_update` all "win"), concurrent `$inc`s
are lost, and two `$set`s of *different* fields on one document overwrite each other. What is
atomic is an insert against a unique `_id` and a delete. So this adapter:

- decides every race with an insert of a marker whose `_id` names the thing being claimed
  (a TOTP time step, a refresh-token generation, a session's revocation); the loser gets E11000;
- consumes one-time things (recovery codes) with a delete, whose count says who won;
- never lets two writers update the same document: facts written by different parties live in
  different documents (the TOTP factor apart from the password hash, a revocation apart from its
  session), and a session document is rewritten only by the one winner of a rotation;
- prunes old sign-in failures on write (no TTL indexes) and trims lists in Python (no `$slice`).

The same code is correct, and simply has less contention to decide, on MongoDB.

Collections (layout in docs/identity.md): accounts, totp, totp_pending, totp_steps, recovery_codes,
sessions, session_revocations, refresh_spent, auth_failures. No roles: those are svyaz.rbac's
`role_assignments`, in the same database but written only by svyaz.rbac.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Sequence
from typing import Any, ParamSpec, TypeVar

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError

from svyaz.identity import tokens
from svyaz.identity.errors import (
    DuplicateAccount,
    RefreshReuse,
    SessionRevoked,
    StoreUnavailable,
    TokenInvalid,
    TotpAlreadyEnabled,
    TotpNotEnrolled,
    UnknownAccount,
)
from svyaz.identity.ports import AccountRecord, SessionRecord, TotpRecord
from svyaz.identity.profile import Profile
from svyaz.identity.throttle import Failures, ThrottlePolicy
from svyaz.identity.tokens import RefreshFamily, RefreshPolicy

P = ParamSpec("P")
R = TypeVar("R")

# Enough of one pair's failures to reach the longest delay (5 free + 10 doublings) with room to spare.
PAIR_FAILURES_READ = 64
# Used TOTP steps kept per account: far more than the ±1 window, so pruning never reopens a step.
TOTP_STEPS_KEPT = 16
# Refresh generation markers kept per session (see rotate_refresh for why two suffice).
REFRESH_MARKERS_KEPT = 2


def _driver_errors(method: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except PyMongoError as err:
            # Server-selection errors append a topology dump after the reason; the reason is enough.
            reason = str(err).split(", Timeout:")[0]
            raise StoreUnavailable(f"identity store: {method.__name__}: {reason}") from err

    return wrapper


class IdentityStore:
    """The `IdentityStorePort` over one region's core database. Call `ensure_indexes()` at start-up."""

    def __init__(self, database: Database, *, throttle: ThrottlePolicy = ThrottlePolicy()) -> None:
        self._accounts = database["accounts"]
        self._profiles = database["profiles"]
        self._totp = database["totp"]
        self._totp_pending = database["totp_pending"]
        self._totp_steps = database["totp_steps"]
        self._recovery = database["recovery_codes"]
        self._sessions = database["sessions"]
        self._revocations = database["session_revocations"]
        self._refresh_spent = database["refresh_spent"]
        self._failures = database["auth_failures"]
        self._throttle = throttle

    @_driver_errors
    def ensure_indexes(self) -> None:
        """Idempotent. Every id that must be unique is an `_id`, unique by construction."""
        self._totp_steps.create_index([("account", ASCENDING), ("step", DESCENDING)])
        self._recovery.create_index([("account", ASCENDING), ("n", ASCENDING)])
        self._sessions.create_index([("account", ASCENDING), ("last_seen_at", DESCENDING)])
        self._refresh_spent.create_index([("session", ASCENDING), ("generation", ASCENDING)])
        self._failures.create_index([("account", ASCENDING), ("at", DESCENDING)])
        self._failures.create_index([("address", ASCENDING), ("at", DESCENDING)])
        self._failures.create_index([("account", ASCENDING), ("address", ASCENDING), ("at", DESCENDING)])
        self._failures.create_index([("at", ASCENDING)])

    # --- accounts ---------------------------------------------------------------------------------

    @_driver_errors
    def create_account(self, account_id: str, password_hash: str, now: float) -> AccountRecord:
        try:
            self._accounts.insert_one({"_id": account_id, "password_hash": password_hash, "created_at": now})
        except DuplicateKeyError:
            raise DuplicateAccount(f"{account_id} is taken", hint="choose another name") from None
        return AccountRecord(account_id, password_hash, now)

    @_driver_errors
    def get_account(self, account_id: str) -> AccountRecord | None:
        doc = self._accounts.find_one({"_id": account_id})
        if doc is None:
            return None
        return AccountRecord(doc["_id"], doc["password_hash"], doc["created_at"])

    @_driver_errors
    def set_password_hash(self, account_id: str, password_hash: str) -> None:
        result = self._accounts.update_one({"_id": account_id}, {"$set": {"password_hash": password_hash}})
        if result.matched_count != 1:
            raise UnknownAccount(f"no account {account_id}")

    @_driver_errors
    def get_profile(self, account_id: str) -> Profile:
        """The account's profile; the defaults until it first changes one."""
        doc = self._profiles.find_one({"_id": account_id})
        if doc is None:
            return Profile()
        return Profile(display_name=doc["display_name"], about=doc["about"], presence=doc["presence"])

    @_driver_errors
    def save_profile(self, account_id: str, profile: Profile) -> None:
        # A whole-document replace: the last of two simultaneous edits wins, never a mix of both.
        self._profiles.replace_one({"_id": account_id}, {"_id": account_id, **profile.as_dict()}, upsert=True)

    # --- TOTP and recovery codes ------------------------------------------------------------------

    @_driver_errors
    def enrol_totp(self, account_id: str, secret: str, now: float) -> None:
        if self._totp.find_one({"_id": account_id}, {"_id": 1}) is not None:
            raise TotpAlreadyEnabled(
                f"{account_id} already has two-factor authentication",
                hint="turn it off first (with a current code), then set up the new device",
            )
        pending = {"_id": account_id, "secret": secret, "enrolled_at": now}
        try:
            self._totp_pending.replace_one({"_id": account_id}, pending, upsert=True)
        except DuplicateKeyError:  # a concurrent enrolment inserted first; the later one replaces it
            self._totp_pending.replace_one({"_id": account_id}, pending)

    @_driver_errors
    def confirm_totp(
        self, account_id: str, secret: str, step: int, recovery_salt: str, recovery_hashes: Sequence[str], now: float
    ) -> bool:
        pending = self._totp_pending.find_one({"_id": account_id})
        if pending is None or pending["secret"] != secret:
            return False
        try:  # the insert decides between concurrent confirmations
            self._totp.insert_one(
                {"_id": account_id, "secret": secret, "enrolled_at": pending["enrolled_at"], "confirmed_at": now}
            )
        except DuplicateKeyError:
            return False
        self._claim_step(account_id, step)
        self._write_recovery_codes(account_id, recovery_salt, recovery_hashes)
        self._totp_pending.delete_one({"_id": account_id, "secret": secret})
        return True

    @_driver_errors
    def disable_totp(self, account_id: str) -> None:
        self._totp.delete_one({"_id": account_id})
        self._totp_pending.delete_one({"_id": account_id})
        self._recovery.delete_many({"account": account_id})

    @_driver_errors
    def get_totp(self, account_id: str) -> TotpRecord | None:
        confirmed = self._totp.find_one({"_id": account_id})
        doc = confirmed or self._totp_pending.find_one({"_id": account_id})
        if doc is None:
            return None
        last_step = self._totp_steps.find_one({"account": account_id}, sort=[("step", DESCENDING)])
        codes = list(self._recovery.find({"account": account_id}).sort("n", ASCENDING)) if confirmed else []
        return TotpRecord(
            account_id=account_id,
            secret=doc["secret"],
            enabled=confirmed is not None,
            last_used_step=last_step["step"] if confirmed and last_step else None,
            recovery_salt=codes[0]["salt"] if codes else "",
            recovery_hashes=tuple(code["hash"] for code in codes),
            enrolled_at=doc["enrolled_at"],
            confirmed_at=confirmed["confirmed_at"] if confirmed else None,
        )

    @_driver_errors
    def record_totp_step(self, account_id: str, step: int) -> bool:
        """True if this call claimed `step`. The marker insert is the replay guard across processes:
        of two racers with the same step exactly one inserts it. A step older than one already used
        is refused; two racers with *different* fresh steps may both pass (neither code is replayed)."""
        if self._totp.find_one({"_id": account_id}, {"_id": 1}) is None:
            return False
        if self._totp_steps.find_one({"account": account_id, "step": {"$gte": step}}, {"_id": 1}) is not None:
            return False
        return self._claim_step(account_id, step)

    @_driver_errors
    def consume_recovery_code(self, account_id: str, code_hash: str) -> bool:
        return self._recovery.delete_one({"_id": f"{account_id}#{code_hash}"}).deleted_count == 1

    @_driver_errors
    def replace_recovery_codes(self, account_id: str, recovery_salt: str, recovery_hashes: Sequence[str]) -> None:
        if self._totp.find_one({"_id": account_id}, {"_id": 1}) is None:
            raise TotpNotEnrolled(f"{account_id} has no two-factor authentication to make recovery codes for")
        self._write_recovery_codes(account_id, recovery_salt, recovery_hashes)

    def _claim_step(self, account_id: str, step: int) -> bool:
        try:
            self._totp_steps.insert_one({"_id": f"{account_id}#{step}", "account": account_id, "step": step})
        except DuplicateKeyError:
            return False
        self._totp_steps.delete_many({"account": account_id, "step": {"$lt": step - TOTP_STEPS_KEPT}})
        return True

    def _write_recovery_codes(self, account_id: str, salt: str, hashes: Sequence[str]) -> None:
        self._recovery.delete_many({"account": account_id})
        if hashes:
            self._recovery.insert_many(
                [
                    {"_id": f"{account_id}#{code_hash}", "account": account_id, "n": n, "hash": code_hash, "salt": salt}
                    for n, code_hash in enumerate(hashes)
                ]
            )

    # --- sessions ---------------------------------------------------------------------------------

    @_driver_errors
    def create_session(self, session: SessionRecord) -> None:
        self._sessions.insert_one(_session_doc(session))

    @_driver_errors
    def get_session(self, session_id: str) -> SessionRecord | None:
        doc = self._sessions.find_one({"_id": session_id})
        if doc is None:
            return None
        return _session(doc, self._revocations.find_one({"_id": session_id}))

    @_driver_errors
    def rotate_refresh(self, token: str, now: float, policy: RefreshPolicy) -> tuple[SessionRecord, str]:
        """Rotate the session's refresh token; RefreshReuse (after revoking) if it was spent.

        Claiming generation g is inserting the marker `<session>#<g>`: of racers presenting the
        same current token exactly one inserts it, and the others are reuse. The winner alone then
        rewrites the session document. Markers older than the last two generations are pruned;
        a racer so stale that its marker was already pruned sees, after its insert, a session
        that has moved past g, and that is reuse too.
        """
        session_id = tokens.refresh_token_family(token)
        session = self.get_session(session_id)
        if session is None:
            raise TokenInvalid("the refresh token's session does not exist")
        try:
            family, new_token = tokens.rotate_refresh(session.refresh, token, now, policy)
        except RefreshReuse:
            self._revoke(session_id, session.account_id, "refresh_reuse", now)
            raise
        generation = session.refresh.generation
        try:
            self._refresh_spent.insert_one(
                {"_id": f"{session_id}#{generation}", "session": session_id, "generation": generation, "at": now}
            )
        except DuplicateKeyError:
            self._revoke(session_id, session.account_id, "refresh_reuse", now)
            raise RefreshReuse(session_id) from None
        latest = self.get_session(session_id)
        if latest is None or latest.refresh.generation != generation:
            self._revoke(session_id, session.account_id, "refresh_reuse", now)
            raise RefreshReuse(session_id)
        if latest.revoked:
            raise SessionRevoked("this session has been ended; sign in again")
        self._sessions.update_one(
            {"_id": session_id},
            {
                "$set": {
                    "refresh.hash": family.token_hash,
                    "refresh.generation": family.generation,
                    "refresh.spent": list(family.spent_hashes),
                    "refresh.last_used_at": family.last_used_at,
                    "last_seen_at": now,
                }
            },
        )
        self._refresh_spent.delete_many(
            {"session": session_id, "generation": {"$lte": generation - REFRESH_MARKERS_KEPT}}
        )
        # A revocation that landed during the rotation still wins: it is its own document.
        rotated = self.get_session(session_id)
        assert rotated is not None
        return rotated, new_token

    @_driver_errors
    def list_sessions(self, account_id: str, *, include_revoked: bool = False) -> list[SessionRecord]:
        docs = list(self._sessions.find({"account": account_id}).sort("last_seen_at", DESCENDING))
        revocations = {
            doc["_id"]: doc for doc in self._revocations.find({"_id": {"$in": [doc["_id"] for doc in docs]}})
        }
        sessions = [_session(doc, revocations.get(doc["_id"])) for doc in docs]
        return sessions if include_revoked else [session for session in sessions if not session.revoked]

    @_driver_errors
    def revoke_session(self, session_id: str, *, reason: str, now: float, account_id: str | None = None) -> bool:
        doc = self._sessions.find_one({"_id": session_id}, {"account": 1})
        if doc is None or (account_id is not None and doc["account"] != account_id):
            return False
        return self._revoke(session_id, doc["account"], reason, now)

    @_driver_errors
    def revoke_other_sessions(self, account_id: str, keep_session_id: str, *, reason: str, now: float) -> int:
        return sum(
            self._revoke(session.session_id, account_id, reason, now)
            for session in self.list_sessions(account_id)
            if session.session_id != keep_session_id
        )

    @_driver_errors
    def revoke_all_sessions(self, account_id: str, *, reason: str, now: float) -> int:
        sessions = self.list_sessions(account_id)
        return sum(self._revoke(session.session_id, account_id, reason, now) for session in sessions)

    @_driver_errors
    def is_session_active(self, session_id: str, now: float) -> bool:
        session = self.get_session(session_id)
        return session is not None and session.is_active(now)

    @_driver_errors
    def revoked_sessions(self, session_ids: Collection[str]) -> set[str]:
        """Which of these sessions have been ended: one read of the revocations (far fewer than
        the sessions), whatever the number asked, so a gateway checks all its connections at once.
        A session that merely ran out needs no check here: its access token runs out with it."""
        ids = list(session_ids)
        if not ids:
            return set()
        return {doc["_id"] for doc in self._revocations.find({"_id": {"$in": ids}}, {"_id": 1})}

    def _revoke(self, session_id: str, account_id: str, reason: str, now: float) -> bool:
        """True if this call revoked it; the first revocation's time and reason are the ones kept."""
        try:
            self._revocations.insert_one({"_id": session_id, "account": account_id, "at": now, "reason": reason})
        except DuplicateKeyError:
            return False
        return True

    # --- sign-in failures -------------------------------------------------------------------------

    @_driver_errors
    def record_failure(self, account_id: str, address: str, now: float) -> None:
        self._failures.insert_one({"account": account_id, "address": address, "at": now})
        # No TTL index on FerretDB: failures older than the window are pruned here.
        self._failures.delete_many({"at": {"$lte": now - self._throttle.window_s}})

    @_driver_errors
    def recent_failures(self, account_id: str, address: str, now: float) -> Failures:
        since = {"$gt": now - self._throttle.window_s}
        return Failures(
            account=self._times({"account": account_id, "at": since}, self._throttle.account_limit),
            pair=self._times({"account": account_id, "address": address, "at": since}, PAIR_FAILURES_READ),
            address=self._times({"address": address, "at": since}, self._throttle.address_limit),
        )

    @_driver_errors
    def clear_failures(self, account_id: str, address: str) -> None:
        self._failures.delete_many({"account": account_id, "address": address})

    def _times(self, query: dict[str, Any], limit: int) -> list[float]:
        # The newest `limit` are all the policy needs: it only asks whether a limit is reached and
        # when the limit-th newest leaves the window.
        cursor = self._failures.find(query, {"at": 1, "_id": 0}).sort("at", DESCENDING).limit(limit)
        return [doc["at"] for doc in cursor]


def _session_doc(session: SessionRecord) -> dict[str, Any]:
    family = session.refresh
    return {
        "_id": session.session_id,
        "account": session.account_id,
        "device": session.device,
        "user_agent": session.user_agent,
        "address": session.address,
        "created_at": session.created_at,
        "last_seen_at": session.last_seen_at,
        "amr": list(session.methods),
        "refresh": {
            "hash": family.token_hash,
            "generation": family.generation,
            "spent": list(family.spent_hashes),
            "issued_at": family.issued_at,
            "last_used_at": family.last_used_at,
            "expires_at": family.expires_at,
            "idle_s": family.idle_s,
        },
    }


def _session(doc: dict[str, Any], revocation: dict[str, Any] | None) -> SessionRecord:
    refresh = doc["refresh"]
    revoked = revocation is not None
    return SessionRecord(
        session_id=doc["_id"],
        account_id=doc["account"],
        device=doc["device"],
        user_agent=doc["user_agent"],
        address=doc["address"],
        created_at=doc["created_at"],
        last_seen_at=doc["last_seen_at"],
        # A session stored before methods were recorded counts as password-only: least privilege.
        methods=tuple(doc.get("amr", ("pwd",))),
        refresh=RefreshFamily(
            family_id=doc["_id"],
            generation=refresh["generation"],
            token_hash=refresh["hash"],
            spent_hashes=tuple(refresh["spent"]),
            issued_at=refresh["issued_at"],
            last_used_at=refresh["last_used_at"],
            expires_at=refresh["expires_at"],
            idle_s=refresh["idle_s"],
            revoked=revoked,
        ),
        revoked=revoked,
        revoked_at=revocation["at"] if revocation else None,
        revoked_reason=revocation["reason"] if revocation else None,
    )
