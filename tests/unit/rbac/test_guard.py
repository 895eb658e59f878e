"""The guard: anonymous callers, unknown actions, audited denials, fail-closed privileged actions."""

from __future__ import annotations

import logging

import pytest

from svyaz.compliance.audit.event import AuditEvent, AuditUnavailable
from svyaz.errors import SvyazError
from svyaz.rbac.actions import CATALOGUE
from svyaz.rbac.assignment import RoleAssignment
from svyaz.rbac.errors import Forbidden, RbacError
from svyaz.rbac.guard import Guard
from svyaz.rbac.policy import load_policy
from svyaz.rbac.principal import Principal
from tests.unit.rbac.fakes import RecordingSink, UnavailableSink

ALICE = Principal.account("@alice:ru")
OLGA = Principal.account("@olga:ru", second_factor=True)  # granted roles below


@pytest.fixture(scope="module")
def policy():
    policy = load_policy()
    policy.index.replace_all([
        RoleAssignment("@olga:ru", "admin", "ru"),
        RoleAssignment("@olga:ru", "moderator", "by"),
    ])
    return policy


@pytest.fixture
def sink():
    return RecordingSink()


@pytest.fixture
def guard(policy, sink):
    return Guard(policy, sink)


@pytest.mark.parametrize("action", CATALOGUE.names())
async def test_anonymous_may_attempt_exactly_the_anonymous_actions(guard, sink, action):
    if CATALOGUE.get(action).anonymous:
        await guard.check(Principal.nobody(), action, "ru", request_id="r1")
        assert sink.events == []
    else:
        with pytest.raises(Forbidden):
            await guard.check(Principal.nobody(), action, "ru", request_id="r1")
        assert [e.detail["reason"] for e in sink.events] == ["sign_in_required"]


async def test_a_denial_is_audited_with_every_field_then_forbidden_is_raised(guard, sink):
    with pytest.raises(Forbidden) as raised:
        await guard.check(ALICE, "audit.read", "ru", target="-", request_id="req-7")
    assert raised.value.code == "forbidden"
    assert isinstance(raised.value, RbacError) and isinstance(raised.value, SvyazError)
    assert str(raised.value) == "forbidden: audit.read"
    assert sink.events == [AuditEvent(
        actor="@alice:ru", role="none", action="audit.read", target="-", region="ru",
        request_id="req-7", outcome="denied", detail={"reason": "not_permitted", "roles": "user"},
    )]


async def test_a_handler_refusal_hint_reaches_the_caller_but_not_the_audit_log(guard, sink):
    with pytest.raises(Forbidden) as raised:
        await guard.deny(OLGA, "role.grant", "ru", target="@bob:ru", request_id="r1",
                         reason="second_factor_required", detail={"role": "admin"}, hint="enrol 2FA first")
    assert (str(raised.value), raised.value.hint) == ("forbidden: role.grant", "enrol 2FA first")
    [event] = sink.events
    assert event.detail == {"role": "admin", "reason": "second_factor_required", "roles": "user,admin"}
    assert "enrol 2FA first" not in repr(event)


async def test_an_unknown_action_is_denied_audited_and_logged_as_a_programming_error(guard, sink, caplog):
    with caplog.at_level(logging.ERROR, logger="svyaz.rbac.guard"), pytest.raises(Forbidden):
        await guard.check(OLGA, "role.grant_everything", "ru", request_id="r2")
    assert [r.getMessage() for r in caplog.records] == [
        "programming error: the guard was asked about an action not in the catalogue"]
    assert caplog.records[0].action == "role.grant_everything"
    [event] = sink.events
    assert (event.outcome, event.action) == ("denied", "role.grant_everything")
    assert event.detail["reason"] == "unknown_action"


async def test_an_unknown_region_is_denied_even_for_anonymous_actions(guard, sink, caplog):
    with caplog.at_level(logging.ERROR, logger="svyaz.rbac.guard"), pytest.raises(Forbidden):
        await guard.check(Principal.nobody(), "auth.login", "us", request_id="r3")
    assert sink.events[0].detail["reason"] == "unknown_region"
    assert "unknown region" in caplog.records[0].getMessage()


async def test_a_privileged_allowed_action_is_audited_before_check_returns(guard, sink):
    await guard.check(OLGA, "role.grant", "ru", target="@bob:ru", request_id="r4", detail={"role": "moderator"})
    assert sink.events == [AuditEvent(
        actor="@olga:ru", role="admin", action="role.grant", target="@bob:ru", region="ru",
        request_id="r4", outcome="allowed", detail={"role": "moderator"},
    )]


async def test_a_privileged_role_acts_only_in_a_session_signed_in_with_a_second_factor(guard, sink):
    # Olga became admin after signing in with her password alone: the role is hers, but not here.
    password_only = Principal.account("@olga:ru")
    with pytest.raises(Forbidden) as refused:
        await guard.check(password_only, "role.grant", "ru", target="@bob:ru", request_id="r4b")
    assert "svyaz login --totp" in refused.value.hint
    [event] = sink.events
    assert (event.outcome, event.detail["reason"]) == ("denied", "second_factor_required")
    # What her ordinary role allows needs no second factor; a moderator's review in by neither.
    await guard.check(password_only, "sessions.list", "ru", request_id="r4c")
    await guard.check(password_only, "moderation.review", "by", request_id="r4d")


async def test_recording_an_allowed_entry_can_be_left_to_the_use_case_but_not_a_denial(guard, sink):
    await guard.check(OLGA, "role.grant", "ru", request_id="r4e", record_allowed=False)
    assert sink.events == []
    with pytest.raises(Forbidden):
        await guard.check(ALICE, "role.grant", "ru", request_id="r4f", record_allowed=False)
    assert [event.outcome for event in sink.events] == ["denied"]


async def test_a_plain_allowed_action_is_not_audited(guard, sink):
    await guard.check(ALICE, "account.profile.read", "ru", request_id="r5")
    await guard.check(Principal.peer("by"), "federation.event.deliver", "ru", request_id="r6")
    assert sink.events == []


async def test_a_privileged_action_fails_closed_when_the_audit_log_is_unavailable(policy):
    sink = UnavailableSink()
    with pytest.raises(AuditUnavailable):
        await Guard(policy, sink).check(OLGA, "role.list", "ru", request_id="r7")
    assert [e.outcome for e in sink.attempts] == ["allowed"]


async def test_a_denial_is_still_forbidden_when_the_audit_log_is_unavailable(policy, caplog):
    with caplog.at_level(logging.ERROR, logger="svyaz.rbac.guard"), pytest.raises(Forbidden) as raised:
        await Guard(policy, UnavailableSink()).check(ALICE, "role.list", "ru", request_id="r8")
    assert isinstance(raised.value.__cause__, AuditUnavailable)
    assert "could not be written to the audit log" in caplog.text


async def test_a_plain_action_needs_no_audit_log(policy):
    await Guard(policy, UnavailableSink()).check(ALICE, "sessions.list", "ru", request_id="r9")


async def test_granted_roles_count_in_their_region_only(guard):
    await guard.check(OLGA, "moderation.review", "by", request_id="r10")
    with pytest.raises(Forbidden):
        await guard.check(OLGA, "moderation.review", "ru", request_id="r11")
    with pytest.raises(Forbidden):
        await guard.check(OLGA, "role.grant", "by", request_id="r12")
    assert guard.roles_of(OLGA, "ru") == ("user", "admin")
    assert guard.roles_of(OLGA, "kz") == ("user",)


async def test_a_service_peer_may_only_deliver_federation_events(guard):
    peer = Principal.peer("kz")
    for action in CATALOGUE.names():
        if action == "federation.event.deliver":
            await guard.check(peer, action, "ru", request_id="r13")
        else:
            with pytest.raises(Forbidden):
                await guard.check(peer, action, "ru", request_id="r13")


async def test_an_unprintable_or_huge_action_name_is_trimmed_before_it_reaches_the_audit_log(guard, sink):
    with pytest.raises(Forbidden):
        await guard.check(ALICE, "x\n" * 500, "ru", request_id="r14")
    assert len(sink.events[0].action) <= 101 and "\n" not in sink.events[0].action


def test_role_for_answers_without_auditing(guard, sink):
    assert guard.role_for(OLGA, "role.list", "ru") == "admin"
    assert guard.role_for(ALICE, "role.list", "ru") is None
    assert guard.role_for(ALICE, "no.such", "ru") is None
    assert sink.events == []
