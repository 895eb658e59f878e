"""lawful.request.* handlers: argument checking before the workflow runs, the role the guard
allowed becoming the workflow's actor, and what each side sees of a request."""

from __future__ import annotations

import pytest

from svyaz.compliance.lawful.workflow import LawfulRequests
from svyaz.node.api import Call, Caller
from svyaz.node.errors import InvalidField
from svyaz.node.handlers.lawful import LawfulHandlers
from svyaz.rbac.assignment import RoleAssignment
from svyaz.rbac.guard import Guard
from svyaz.rbac.policy import load_policy
from svyaz.rbac.principal import Principal
from tests.unit.compliance.lawful.fakes import Clock, MemoryStore
from tests.unit.compliance.lawful.samples import ALICE, AUTHORITY, BORIS, DEADLINE, HASH, NOW
from tests.unit.rbac.fakes import RecordingSink

BASIS = {"kind": "court_order", "number": "1/2026", "date": "2026-11-20", "issuer": "court", "document_hash": HASH}


@pytest.fixture
def handlers():
    policy = load_policy()
    policy.index.replace_all([RoleAssignment(AUTHORITY.id, "authority", "ru"),
                              RoleAssignment(ALICE.id, "security_officer", "ru"),
                              RoleAssignment(BORIS.id, "security_officer", "ru")])
    sink = RecordingSink()

    async def exists(account: str) -> bool:
        return account == "@ivan:ru"

    requests = LawfulRequests(MemoryStore(), sink, region="ru", account_exists=exists, clock=Clock(NOW))
    yield LawfulHandlers(requests, Guard(policy, sink))
    policy.index.replace_all([])


def call(actor: str, action: str, **args) -> Call:
    return Call(Caller("10.0.0.1", Principal.account(actor, second_factor=True)), action, args, "req-1", "ru")


def submission(**changes) -> dict:
    return {"subject": "@ivan:ru", "categories": ["metadata"], "since": NOW - 100, "until": NOW,
            "deadline": DEADLINE, "basis": BASIS, **changes}


async def test_the_guards_role_becomes_the_actor_and_the_answer_hides_officers_from_the_authority(handlers):
    submitted = await handlers.submit(call(AUTHORITY.id, "lawful.request.submit", **submission()))
    request_id = submitted["id"]
    await handlers.review(call(ALICE.id, "lawful.request.review", id=request_id))
    await handlers.approve(call(ALICE.id, "lawful.request.approve", id=request_id))
    officer = await handlers.show(call(BORIS.id, "lawful.request.show", id=request_id))
    authority = await handlers.show(call(AUTHORITY.id, "lawful.request.show", id=request_id))

    assert officer["approved_by"] == [ALICE.id] and officer["steps"][0]["actor"] == ALICE.id
    assert authority["approvals"] == 1 and "approved_by" not in authority
    assert all("actor" not in step for step in authority["steps"])
    assert authority["basis"] == BASIS and authority["state"] == "in_review"


@pytest.mark.parametrize(("changes", "field"), [
    ({"categories": "metadata"}, "categories"),
    ({"categories": [1]}, "categories"),
    ({"since": "yesterday"}, "since"),
    ({"deadline": True}, "deadline"),
    ({"basis": "court order"}, "basis"),
    ({"basis": {**BASIS, "seal": "yes"}}, "basis"),
    ({"basis": {**BASIS, "number": 12}}, "basis"),
    ({"subject": ""}, "subject"),
    ({"extra": 1}, "extra"),
])
async def test_malformed_arguments_are_invalid_fields(handlers, changes, field):
    with pytest.raises(InvalidField, match=field):
        await handlers.submit(call(AUTHORITY.id, "lawful.request.submit", **submission(**changes)))


async def test_list_takes_only_a_known_state(handlers):
    with pytest.raises(InvalidField):
        await handlers.list(call(ALICE.id, "lawful.request.list", state="pending"))
    assert await handlers.list(call(ALICE.id, "lawful.request.list", state=None)) == {"requests": []}


def test_every_route_is_a_catalogue_action():
    from svyaz.rbac.actions import CATALOGUE
    routes = LawfulHandlers.routes(LawfulHandlers.__new__(LawfulHandlers))
    assert set(routes) <= set(CATALOGUE.names())
    assert all(CATALOGUE.get(name).privileged for name in routes)

