"""role.grant / role.revoke / role.list: guarded, separation of duties, 2FA for the privileged roles,
store then announce then apply."""

from __future__ import annotations

import logging

import pytest

from svyaz.compliance.audit.event import AuditUnavailable
from svyaz.rbac.administration import RoleAdministration
from svyaz.rbac.assignment import RoleAssignment
from svyaz.rbac.errors import Forbidden, InvalidAssignment
from svyaz.rbac.guard import Guard
from svyaz.rbac.loader import RoleLoader
from svyaz.rbac.policy import load_policy
from svyaz.rbac.principal import Principal
from tests.unit.rbac.fakes import ListPublisher, MemoryStore, RecordingSink, SecondFactors, UnavailableSink

ADMIN = Principal.account("@root:ru", second_factor=True)
BOB = "@bob:ru"


@pytest.fixture
def store():
    return MemoryStore([RoleAssignment("@root:ru", "admin", "ru"), RoleAssignment("@sec:ru", "security_officer", "ru")])


@pytest.fixture
def sink():
    return RecordingSink()


@pytest.fixture
def publisher():
    return ListPublisher()


async def make(store, publisher, sink, second_factors=None):
    """`second_factors` defaults to every account in the fixtures having confirmed 2FA."""
    policy = load_policy()
    loader = RoleLoader(store, policy.index)
    await loader.load_all()
    guard = Guard(policy, sink)
    factors = second_factors if second_factors is not None else SecondFactors({"@root:ru", "@sec:ru", BOB})
    return RoleAdministration(guard, store, publisher, loader, sink, second_factor=factors), guard


async def test_a_grant_is_stored_announced_applied_and_audited(store, publisher, sink):
    admin, guard = await make(store, publisher, sink)
    await admin.grant(ADMIN, account=BOB, role="moderator", region="ru", request_id="r1")
    assert ("@bob:ru", "moderator", "ru") in store.rows
    assert [(c.account, c.op, c.role, c.region) for c in publisher.changes] == [(BOB, "grant", "moderator", "ru")]
    assert guard.roles_of(Principal.account(BOB), "ru") == ("user", "moderator")
    assert [(e.action, e.outcome, e.role, e.target, e.detail) for e in sink.events] == [
        ("role.grant", "allowed", "admin", BOB, {"role": "moderator"}),
        ("role.grant", "success", "admin", BOB, {"role": "moderator", "changed": "yes"}),
    ]


async def test_a_revoke_takes_the_role_away_at_once_in_this_process(store, publisher, sink):
    admin, guard = await make(store, publisher, sink)
    await admin.grant(ADMIN, account=BOB, role="moderator", region="ru", request_id="r1")
    assert await admin.revoke(ADMIN, account=BOB, role="moderator", region="ru", request_id="r2")
    assert not await admin.revoke(ADMIN, account=BOB, role="moderator", region="ru", request_id="r3")
    assert guard.roles_of(Principal.account(BOB), "ru") == ("user",)
    assert [c.op for c in publisher.changes] == ["grant", "revoke", "revoke"]


async def test_nobody_grants_themselves_a_role(store, publisher, sink):
    admin, _ = await make(store, publisher, sink)
    with pytest.raises(Forbidden):
        await admin.grant(ADMIN, account="@root:ru", role="moderator", region="ru", request_id="r1")
    assert sink.events[-1].outcome == "denied" and sink.events[-1].detail["reason"] == "self_grant"
    assert ("@root:ru", "moderator", "ru") not in store.rows and publisher.changes == []


async def test_conflicting_roles_are_refused_in_the_same_region_only(store, publisher, sink):
    admin, _ = await make(store, publisher, sink)
    with pytest.raises(Forbidden):
        await admin.grant(ADMIN, account="@sec:ru", role="auditor", region="ru", request_id="r1")
    assert sink.events[-1].detail == {"role": "auditor", "conflicts": "security_officer",
                                      "reason": "conflicting_roles", "roles": "user,admin"}
    store.rows[("@root:ru", "admin", "by")] = RoleAssignment("@root:ru", "admin", "by")
    admin, _ = await make(store, publisher, sink)
    await admin.grant(ADMIN, account="@sec:ru", role="auditor", region="by", request_id="r2")


async def test_a_non_admin_cannot_grant_revoke_or_list(store, publisher, sink):
    admin, _ = await make(store, publisher, sink)
    officer = Principal.account("@sec:ru", second_factor=True)
    with pytest.raises(Forbidden):
        await admin.grant(officer, account=BOB, role="moderator", region="ru", request_id="r1")
    with pytest.raises(Forbidden):
        await admin.revoke(officer, account="@root:ru", role="admin", region="ru", request_id="r2")
    with pytest.raises(Forbidden):
        await admin.list(officer, region="ru", request_id="r3")
    assert [e.outcome for e in sink.events] == ["denied"] * 3


async def test_an_admin_grants_only_in_the_region_of_their_grant(store, publisher, sink):
    admin, _ = await make(store, publisher, sink)
    with pytest.raises(Forbidden):
        await admin.grant(ADMIN, account=BOB, role="moderator", region="kz", request_id="r1")


async def test_implicit_roles_cannot_be_granted(store, publisher, sink):
    admin, _ = await make(store, publisher, sink)
    with pytest.raises(InvalidAssignment):
        await admin.grant(ADMIN, account=BOB, role="service", region="ru", request_id="r1")


async def test_list_shows_the_region(store, publisher, sink):
    admin, _ = await make(store, publisher, sink)
    listed = await admin.list(ADMIN, region="ru", request_id="r1")
    assert [(a.account, a.role) for a in listed] == [("@root:ru", "admin"), ("@sec:ru", "security_officer")]


async def test_a_grant_without_an_audit_log_does_not_happen(store, publisher):
    sink = UnavailableSink()
    admin, _ = await make(store, publisher, sink)
    with pytest.raises(AuditUnavailable):
        await admin.grant(ADMIN, account=BOB, role="moderator", region="ru", request_id="r1")
    assert ("@bob:ru", "moderator", "ru") not in store.rows and publisher.changes == []


async def test_a_change_kafka_did_not_take_still_holds_here_and_is_logged(store, sink, caplog):
    admin, guard = await make(store, ListPublisher(fail=True), sink)
    with caplog.at_level(logging.ERROR, logger="svyaz.rbac.administration"):
        await admin.grant(ADMIN, account=BOB, role="moderator", region="ru", request_id="r1")
    assert guard.roles_of(Principal.account(BOB), "ru") == ("user", "moderator")
    assert "not announced" in caplog.text


# --- roles that need a second factor ----------------------------------------------------------------


@pytest.mark.parametrize("role", ["security_officer", "auditor", "authority", "admin"])
async def test_a_role_needing_2fa_is_refused_to_an_account_without_it_and_audited(store, publisher, sink, role):
    factors = SecondFactors()  # bob has not confirmed 2FA
    admin, guard = await make(store, publisher, sink, factors)
    with pytest.raises(Forbidden) as raised:
        await admin.grant(ADMIN, account=BOB, role=role, region="ru", request_id="r1")

    assert factors.asked == [BOB]  # the target, not the admin
    assert "two-factor" in raised.value.hint and BOB in raised.value.hint and role in raised.value.hint
    assert str(raised.value) == "forbidden: role.grant"
    assert [(e.action, e.outcome, e.actor, e.target, e.region, e.detail) for e in sink.events] == [
        ("role.grant", "allowed", "@root:ru", BOB, "ru", {"role": role}),
        ("role.grant", "denied", "@root:ru", BOB, "ru",
         {"role": role, "reason": "second_factor_required", "roles": "user,admin"}),
    ]
    assert (BOB, role, "ru") not in store.rows and publisher.changes == []
    assert guard.roles_of(Principal.account(BOB), "ru") == ("user",)


async def test_once_2fa_is_confirmed_the_same_grant_goes_through(store, publisher, sink):
    factors = SecondFactors()
    admin, guard = await make(store, publisher, sink, factors)
    with pytest.raises(Forbidden):
        await admin.grant(ADMIN, account=BOB, role="auditor", region="ru", request_id="r1")
    factors.confirmed.add(BOB)
    await admin.grant(ADMIN, account=BOB, role="auditor", region="ru", request_id="r2")
    assert guard.roles_of(Principal.account(BOB), "ru") == ("user", "auditor")
    assert sink.events[-1].outcome == "success"


async def test_a_moderator_needs_no_second_factor_and_the_port_is_not_asked(store, publisher, sink):
    factors = SecondFactors()
    admin, _ = await make(store, publisher, sink, factors)
    await admin.grant(ADMIN, account=BOB, role="moderator", region="ru", request_id="r1")
    assert (BOB, "moderator", "ru") in store.rows and factors.asked == []


async def test_revoking_a_role_needing_2fa_does_not_ask_for_it(store, publisher, sink):
    factors = SecondFactors()  # @sec:ru holds security_officer from before, and has no 2FA now
    admin, _ = await make(store, publisher, sink, factors)
    assert await admin.revoke(ADMIN, account="@sec:ru", role="security_officer", region="ru", request_id="r1")
    assert factors.asked == []


async def test_a_caller_who_may_not_grant_learns_nothing_about_second_factors(store, publisher, sink):
    factors = SecondFactors()
    admin, _ = await make(store, publisher, sink, factors)
    with pytest.raises(Forbidden) as raised:
        await admin.grant(Principal.account("@sec:ru", second_factor=True), account=BOB, role="admin", region="ru", request_id="r1")
    assert raised.value.hint is None and factors.asked == []
    assert sink.events[-1].detail["reason"] == "not_permitted"


async def test_the_other_refusals_come_before_asking_for_the_second_factor(store, publisher, sink):
    factors = SecondFactors()
    admin, _ = await make(store, publisher, sink, factors)
    with pytest.raises(Forbidden):
        await admin.grant(ADMIN, account="@root:ru", role="auditor", region="ru", request_id="r1")
    with pytest.raises(Forbidden):
        await admin.grant(ADMIN, account="@sec:ru", role="auditor", region="ru", request_id="r2")
    assert [e.detail["reason"] for e in sink.events if e.outcome == "denied"] == ["self_grant", "conflicting_roles"]
    assert factors.asked == []


async def test_a_second_factor_port_that_cannot_answer_stops_the_grant(store, publisher, sink):
    class Unreachable:
        async def __call__(self, account: str) -> bool:
            raise RuntimeError("identity store: connection refused")

    admin, _ = await make(store, publisher, sink, Unreachable())
    with pytest.raises(RuntimeError):
        await admin.grant(ADMIN, account=BOB, role="admin", region="ru", request_id="r1")
    assert (BOB, "admin", "ru") not in store.rows and publisher.changes == []


async def test_a_grant_that_raced_a_conflicting_one_takes_itself_back_and_is_refused(store, publisher, sink):
    class RacingStore(MemoryStore):
        """Another admin's conflicting grant lands between this grant's check and its write."""

        async def grant(self, assignment):
            if assignment.role == "auditor":
                self.rows[(BOB, "security_officer", "ru")] = RoleAssignment(BOB, "security_officer", "ru")
            return await super().grant(assignment)

    racing = RacingStore(list(store.rows.values()))
    admin, _ = await make(racing, publisher, sink)

    with pytest.raises(Forbidden) as refused:
        await admin.grant(ADMIN, account=BOB, role="auditor", region="ru", request_id="r1")

    assert {a.role for a in await racing.list(account=BOB, region="ru")} == {"security_officer"}
    assert "another admin" in refused.value.hint
    assert [(e.outcome, e.detail.get("taken_back"), e.detail.get("concurrent")) for e in sink.events] == [
        ("allowed", None, None), ("success", "concurrent_conflict", None), ("denied", None, "yes")]
    assert publisher.changes[-1].account == BOB  # the other processes reload the account either way
