"""The use cases (`LawfulRequests`) over in-memory ports: what each call stores, what it audits
(and never audits), who sees what, lazy and periodic expiry, and deciding again after a concurrent
step. The real store and its race are tested in tests/integration/compliance/lawful."""

from __future__ import annotations

from dataclasses import replace

import pytest

from svyaz.compliance.audit.event import AuditEvent
from svyaz.compliance.lawful import errors
from svyaz.compliance.lawful.model import APPROVED, EXPIRED, IN_REVIEW, SUBMITTED, Step
from svyaz.compliance.lawful.workflow import MAX_ATTEMPTS, Actor, Draft, LawfulRequests
from tests.unit.compliance.lawful.fakes import Clock, MemoryStore
from tests.unit.compliance.lawful.samples import (
    ALICE,
    AUTHORITY,
    BASIS,
    BORIS,
    DEADLINE,
    NOW,
    OTHER_AUTHORITY,
)
from tests.unit.rbac.fakes import RecordingSink, UnavailableSink

ACCOUNTS = {"@ivan:ru", "@petr:ru"}


def draft(**changes) -> Draft:
    return replace(Draft(subject="@ivan:ru", categories=("metadata",), since=NOW - 86_400, until=NOW,
                         deadline=DEADLINE, basis=BASIS), **changes)


class World:
    def __init__(self, sink=None) -> None:
        self.store = MemoryStore()
        self.sink = sink or RecordingSink()
        self.clock = Clock(NOW)
        ids = iter(f"lr-ru-{n:016x}" for n in range(1, 100))

        async def exists(account: str) -> bool:
            return account in ACCOUNTS

        self.requests = LawfulRequests(self.store, self.sink, region="ru", account_exists=exists, clock=self.clock,
                                       new_id=lambda region: next(ids))

    def entries(self, **match) -> list[AuditEvent]:
        return [e for e in self.sink.events if all(getattr(e, k) == v for k, v in match.items())]


@pytest.fixture
def world() -> World:
    return World()


async def submit(world: World, actor: Actor = AUTHORITY, **changes) -> str:
    return (await world.requests.submit(actor, draft(**changes), call_id="c-submit")).id


async def test_submit_stores_the_request_and_audits_it_without_its_basis_or_subject(world):
    request = await world.requests.submit(AUTHORITY, draft(categories=("content", "metadata")), call_id="c1")

    assert request.state == SUBMITTED and request.authority == AUTHORITY.id and request.submitted_at == NOW
    assert request.categories == ("metadata", "content")
    assert (await world.store.get(request.id)).basis == BASIS
    [entry] = world.sink.events
    assert (entry.actor, entry.role, entry.action, entry.target, entry.outcome, entry.request_id) == (
        AUTHORITY.id, "authority", "lawful.request.submit", request.id, "success", "c1")
    assert entry.detail == {"step": "submit", "state": "submitted", "categories": "metadata,content"}


@pytest.mark.parametrize(("changes", "code"), [
    ({"subject": "@nobody:ru"}, "unknown_subject"),
    ({"subject": "@olzhas:kz"}, "foreign_subject"),
    ({"categories": ("metadata", "passwords")}, "out_of_scope_category"),
    ({"deadline": NOW - 1}, "bad_deadline"),
    ({"basis": replace(BASIS, document_hash="nothex")}, "bad_legal_basis"),
])
async def test_a_refused_submission_is_audited_and_stores_nothing(world, changes, code):
    with pytest.raises(errors.LawfulError) as refused:
        await submit(world, **changes)

    assert refused.value.code == code
    assert world.store.submitted == {}
    [entry] = world.sink.events
    assert (entry.outcome, entry.target, entry.detail["reason"], entry.detail["step"]) == ("denied", "-", code, "submit")
    if code == "foreign_subject":
        assert entry.detail["subject_region"] == "kz" and refused.value.hint == "ask the kz node"


async def test_only_an_authority_submits(world):
    with pytest.raises(errors.StepNotPermitted):
        await submit(world, ALICE)


async def test_the_workflow_to_approval_audits_every_step_and_none_of_the_secrets(world):
    request_id = await submit(world)
    await world.requests.review(ALICE, request_id, call_id="c2")
    await world.requests.approve(ALICE, request_id, call_id="c3")
    with pytest.raises(errors.AlreadyApproved):
        await world.requests.approve(ALICE, request_id, call_id="c4")
    approved = await world.requests.approve(BORIS, request_id, call_id="c5")

    assert approved.state == APPROVED and approved.approvals == (ALICE.id, BORIS.id)
    assert (await world.store.get(request_id)) == approved
    steps = [(e.actor, e.outcome, e.detail.get("step"), e.detail.get("state"), e.detail.get("reason"))
             for e in world.entries(target=request_id)]
    assert steps == [
        (AUTHORITY.id, "success", "submit", "submitted", None),
        (ALICE.id, "success", "review", "in_review", None),
        (ALICE.id, "success", "approve", "in_review", None),
        (ALICE.id, "denied", "approve", None, "already_approved"),
        (BORIS.id, "success", "approve", "approved", None),
    ]
    everything = repr(world.sink.events)
    for secret in (BASIS.number, BASIS.issuer, BASIS.document_hash, "@ivan:ru"):
        assert secret not in everything


async def test_a_rejection_reason_reaches_the_request_but_not_the_audit_log(world):
    request_id = await submit(world)
    rejected = await world.requests.reject(ALICE, request_id, "the order names another person", call_id="c2")

    assert rejected.steps[-1].reason == "the order names another person"
    assert "another person" not in repr(world.sink.events)
    assert world.entries(target=request_id)[-1].detail == {"step": "reject", "state": "rejected", "approvals": "0"}


async def test_an_authority_sees_only_its_own_requests_and_officers_see_all(world):
    own = await submit(world)
    other = await submit(world, OTHER_AUTHORITY, subject="@petr:ru")

    assert [r.id for r in await world.requests.list(AUTHORITY, call_id="l1")] == [own]
    assert [r.id for r in await world.requests.list(ALICE, call_id="l2")] == [own, other]
    assert (await world.requests.show(AUTHORITY, own, call_id="s1")).id == own
    with pytest.raises(errors.UnknownRequest) as hidden:
        await world.requests.show(AUTHORITY, other, call_id="s2")
    with pytest.raises(errors.UnknownRequest) as missing:
        await world.requests.show(ALICE, "lr-ru-ffffffffffffffff", call_id="s3")

    assert str(hidden.value) == f"no request {other} in region ru of yours"   # says nothing about existence
    assert "of yours" not in str(missing.value)
    assert world.entries(request_id="s2")[0].detail == {"step": "show", "reason": "unknown_request"}
    assert world.entries(request_id="l2")[0].detail == {"read": "list", "count": "2"}


async def test_list_filters_by_state(world):
    first = await submit(world)
    await submit(world, subject="@petr:ru")
    await world.requests.review(ALICE, first, call_id="r")

    assert [r.id for r in await world.requests.list(ALICE, call_id="l", state=IN_REVIEW)] == [first]


async def test_an_authority_cannot_step_on_another_authoritys_request(world):
    request_id = await submit(world)
    with pytest.raises(errors.UnknownRequest):
        await world.requests.close(OTHER_AUTHORITY, request_id, call_id="c")
    assert world.entries(request_id="c")[-1].detail == {"step": "close", "reason": "unknown_request"}


async def test_reads_and_steps_expire_an_overdue_request_once_and_audit_it_as_the_node(world):
    request_id = await submit(world)
    await world.requests.review(ALICE, request_id, call_id="r")
    world.clock.now = DEADLINE + 5

    shown = await world.requests.show(AUTHORITY, request_id, call_id="s")
    with pytest.raises(errors.RequestExpired):
        await world.requests.approve(BORIS, request_id, call_id="a")

    assert shown.state == EXPIRED
    expiries = world.entries(action="lawful.request.expire")
    assert [(e.actor, e.role, e.target, e.request_id, e.detail) for e in expiries] == [
        ("node:ru", "node", request_id, "s", {"step": "expire", "state": "expired", "was": "in_review"})]
    assert world.entries(request_id="a")[-1].detail == {"step": "approve", "reason": "request_expired"}
    assert [s.name for s in world.store.steps[request_id]] == ["review", "expire"]


async def test_expire_overdue_sweeps_the_region(world):
    late = await submit(world)
    later = await submit(world, deadline=DEADLINE + 86_400)
    world.clock.now = DEADLINE + 1

    assert await world.requests.open_subjects() == {"@ivan:ru"}   # `later` is still open
    assert await world.requests.expire_overdue() == [late]
    assert await world.requests.expire_overdue() == []
    assert await world.requests.expire_overdue(now=DEADLINE + 86_400) == [later]
    assert {r.state for r in await world.requests.all()} == {EXPIRED}
    assert await world.requests.open_subjects() == set()


async def test_all_reads_overdue_requests_as_expired_without_writing(world):
    await submit(world)
    world.clock.now = DEADLINE

    assert [r.state for r in await world.requests.all()] == [EXPIRED]
    assert world.entries(action="lawful.request.expire") == []


async def test_a_concurrent_approval_is_seen_and_the_step_decided_again(world):
    request_id = await submit(world)
    await world.requests.review(ALICE, request_id, call_id="r")

    def boris_first(request, step):
        # Boris's approval lands between Alice's read and her insert.
        world.store.steps[request.id].append(Step("approve", BORIS.id, NOW + 1, role=BORIS.role))

    world.store.before_append = boris_first
    approved = await world.requests.approve(ALICE, request_id, call_id="a")

    assert approved.state == APPROVED and approved.approvals == (BORIS.id, ALICE.id)
    assert [s.name for s in world.store.steps[request_id]] == ["review", "approve", "approve"]


async def test_the_same_officer_racing_itself_records_one_approval(world):
    request_id = await submit(world)
    await world.requests.review(ALICE, request_id, call_id="r")

    def alice_first(request, step):
        world.store.steps[request.id].append(Step("approve", ALICE.id, NOW + 1, role=ALICE.role))

    world.store.before_append = alice_first
    with pytest.raises(errors.AlreadyApproved):
        await world.requests.approve(ALICE, request_id, call_id="a")
    assert (await world.store.get(request_id)).approvals == (ALICE.id,)


async def test_a_step_that_never_lands_gives_up_and_says_so(world):
    request_id = await submit(world)
    world.store.refuse_appends = True

    with pytest.raises(errors.StepContended):
        await world.requests.review(ALICE, request_id, call_id="r")
    assert world.entries(request_id="r")[-1].detail == {"step": "review", "reason": "step_contended"}
    assert MAX_ATTEMPTS >= 10


async def test_a_refusal_is_still_a_refusal_when_the_audit_log_is_down():
    world = World(UnavailableSink())
    with pytest.raises(errors.ForeignSubject):
        await submit(world, subject="@olga:by")
    assert world.sink.attempts[0].outcome == "denied"
