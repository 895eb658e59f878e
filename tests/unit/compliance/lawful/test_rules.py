"""The request state machine (`workflow.next_state`): every allowed step, every forbidden one, the
four-eyes rules, whose step is whose, expiry, and what a submission must carry (`check_draft`)."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from svyaz.compliance.lawful import errors
from svyaz.compliance.lawful.model import (
    APPROVED,
    CATEGORIES,
    CLOSED,
    DELIVERED,
    EXPIRABLE,
    EXPIRED,
    EXPORTED,
    FINAL,
    IN_REVIEW,
    OPEN,
    REJECTED,
    STATES,
    STEPS,
    SUBMITTED,
    LawfulRequest,
    Step,
)
from svyaz.compliance.lawful.workflow import (
    NODE,
    Actor,
    Draft,
    check_draft,
    effective,
    next_state,
    node_actor,
    overdue,
    replay,
    visible_to,
)

from tests.unit.compliance.lawful.samples import (
    ALICE,
    AUTHORITY,
    BASIS,
    BORIS,
    CAROL,
    DEADLINE,
    NODE_RU,
    NOW,
    OTHER_AUTHORITY,
)

def submitted() -> LawfulRequest:
    return LawfulRequest(id="lr-ru-0000000000000001", region="ru", authority=AUTHORITY.id, subject="@ivan:ru",
                         categories=("metadata", "content"), since=NOW - 86_400 * 90, until=NOW,
                         deadline=DEADLINE, basis=BASIS, submitted_at=NOW)


# The path to each state, step by step (actor, step), from a fresh submission.
PATHS: dict[str, list[tuple[Actor, str]]] = {
    SUBMITTED: [],
    IN_REVIEW: [(ALICE, "review")],
    APPROVED: [(ALICE, "review"), (ALICE, "approve"), (BORIS, "approve")],
    EXPORTED: [(ALICE, "review"), (ALICE, "approve"), (BORIS, "approve"), (ALICE, "export")],
    DELIVERED: [(ALICE, "review"), (ALICE, "approve"), (BORIS, "approve"), (ALICE, "export"),
                (AUTHORITY, "deliver")],
    CLOSED: [(ALICE, "review"), (ALICE, "approve"), (BORIS, "approve"), (ALICE, "export"),
             (AUTHORITY, "deliver"), (AUTHORITY, "close")],
    REJECTED: [(ALICE, "review"), (BORIS, "reject")],
    EXPIRED: [(ALICE, "review"), (NODE_RU, "expire")],
}


def at(state: str) -> LawfulRequest:
    request = submitted()
    for n, (actor, step) in enumerate(PATHS[state], start=1):
        moment = DEADLINE if step == "expire" else NOW + n
        request = next_state(request, step, actor, moment, reason="unsigned" if step == "reject" else "")
    assert request.state == state
    return request


def taker(step: str) -> Actor:
    """Someone whose role takes `step` and who has not approved anything yet."""
    return {"expire": NODE_RU, "deliver": AUTHORITY, "close": AUTHORITY}.get(step, CAROL)


def when(step: str) -> float:
    return DEADLINE + 1 if step == "expire" else NOW + 100


def test_every_state_is_reachable_and_the_paths_cover_them_all():
    assert set(PATHS) == set(STATES)


# --- allowed steps ------------------------------------------------------------------------------

ALLOWED = [(state, step) for step, (sources, _) in STEPS.items() for state in sorted(sources)]
FORBIDDEN = [(state, step) for state, step in itertools.product(STATES, STEPS) if state not in STEPS[step][0]]


@pytest.mark.parametrize(("state", "step"), ALLOWED, ids=[f"{s}-{t}" for s, t in ALLOWED])
def test_each_allowed_step_leads_where_the_table_says(state, step):
    request = at(state)
    taken = next_state(request, step, taker(step), when(step), reason="not signed" if step == "reject" else "")

    expected = STEPS[step][1]
    if step == "approve":  # the first approval keeps it in review; the second approves
        expected = APPROVED if len(request.approvals) == 1 else IN_REVIEW
    assert taken.state == expected
    assert taken.steps[-1] == Step(step, taker(step).id, when(step), "not signed" if step == "reject" else "",
                                   taker(step).role)
    assert taken.steps[:-1] == request.steps
    assert request.state == state   # the input is untouched


def test_the_happy_path_two_distinct_officers_then_export_deliver_close():
    request = at(CLOSED)
    assert [s.name for s in request.steps] == ["review", "approve", "approve", "export", "deliver", "close"]
    assert request.approvals == (ALICE.id, BORIS.id)
    assert not request.open


# --- forbidden steps: every (state, step) pair the table does not list --------------------------

@pytest.mark.parametrize(("state", "step"), FORBIDDEN, ids=[f"{s}-{t}" for s, t in FORBIDDEN])
def test_each_forbidden_transition_is_refused_and_changes_nothing(state, step):
    request = at(state)
    with pytest.raises(errors.LawfulError) as refused:
        next_state(request, step, taker(step), when(step), reason="reason" if step == "reject" else "")

    if step != "expire" and state == EXPIRED:
        assert refused.value.code == "request_expired"
    else:
        assert refused.value.code == "forbidden_transition"
        assert (refused.value.state, refused.value.step) == (state, step)
    assert request == at(state)


def test_the_forbidden_list_covers_skipping_and_repeating():
    forbidden = set(FORBIDDEN)
    # skipping
    assert {(SUBMITTED, "approve"), (SUBMITTED, "export"), (IN_REVIEW, "export"), (APPROVED, "deliver"),
            (APPROVED, "close"), (EXPORTED, "close")} <= forbidden
    # repeating
    assert {(IN_REVIEW, "review"), (EXPORTED, "export"), (DELIVERED, "deliver"), (CLOSED, "close"),
            (REJECTED, "reject"), (EXPIRED, "expire")} <= forbidden
    # going back, and anything after a final state
    assert {(APPROVED, "review"), (APPROVED, "reject"), (EXPORTED, "approve")} <= forbidden
    assert all((final, step) in forbidden for final in FINAL for step in STEPS)
    assert len(FORBIDDEN) + len(ALLOWED) == len(STATES) * len(STEPS)


def test_an_unknown_step_is_a_forbidden_transition():
    with pytest.raises(errors.ForbiddenTransition):
        next_state(at(IN_REVIEW), "approve_all", ALICE, NOW)


# --- four eyes -----------------------------------------------------------------------------------

def test_two_distinct_officers_approve():
    one = next_state(at(IN_REVIEW), "approve", ALICE, NOW + 10)
    two = next_state(one, "approve", BORIS, NOW + 11)

    assert (one.state, one.approvals) == (IN_REVIEW, (ALICE.id,))
    assert (two.state, two.approvals) == (APPROVED, (ALICE.id, BORIS.id))


def test_the_same_officer_approving_again_is_refused_and_changes_nothing():
    once = next_state(at(IN_REVIEW), "approve", ALICE, NOW + 10)
    with pytest.raises(errors.AlreadyApproved) as again:
        next_state(once, "approve", ALICE, NOW + 11)
    approved = next_state(once, "approve", BORIS, NOW + 12)
    with pytest.raises(errors.AlreadyApproved):
        next_state(approved, "approve", ALICE, NOW + 13)   # after the second approval too

    assert again.value.code == "already_approved"
    assert once.approvals == (ALICE.id,) and once.state == IN_REVIEW


def test_a_third_officer_cannot_add_an_approval():
    with pytest.raises(errors.ForbiddenTransition):
        next_state(at(APPROVED), "approve", CAROL, NOW + 20)


def test_the_submitter_cannot_approve_even_as_an_officer():
    # An account that submitted as an authority and was later made an officer (roles change).
    turned_officer = Actor(AUTHORITY.id, "security_officer")
    with pytest.raises(errors.SubmitterCannotApprove) as first:
        next_state(at(IN_REVIEW), "approve", turned_officer, NOW + 10)
    with pytest.raises(errors.SubmitterCannotApprove):
        next_state(next_state(at(IN_REVIEW), "approve", ALICE, NOW + 10), "approve", turned_officer, NOW + 11)
    assert first.value.code == "submitter_cannot_approve"


# --- whose step is whose ------------------------------------------------------------------------

@pytest.mark.parametrize(("state", "step"), [(SUBMITTED, "review"), (IN_REVIEW, "approve"), (IN_REVIEW, "reject"),
                                             (APPROVED, "export")])
def test_an_authority_takes_no_officer_step(state, step):
    with pytest.raises(errors.StepNotPermitted):
        next_state(at(state), step, AUTHORITY, NOW + 50, reason="x")


def test_only_the_node_expires_and_officers_and_authorities_cannot():
    for actor in (ALICE, AUTHORITY):
        with pytest.raises(errors.StepNotPermitted):
            next_state(at(IN_REVIEW), "expire", actor, DEADLINE + 1)
    with pytest.raises(errors.StepNotPermitted):
        next_state(at(DELIVERED), "close", NODE_RU, NOW + 50)


def test_the_submitting_authority_or_an_officer_closes_but_not_another_authority():
    assert next_state(at(DELIVERED), "close", AUTHORITY, NOW + 50).state == CLOSED
    assert next_state(at(DELIVERED), "close", CAROL, NOW + 50).state == CLOSED
    with pytest.raises(errors.UnknownRequest):
        next_state(at(DELIVERED), "close", OTHER_AUTHORITY, NOW + 50)
    with pytest.raises(errors.UnknownRequest):
        next_state(at(EXPORTED), "deliver", OTHER_AUTHORITY, NOW + 50)


def test_visibility():
    request = at(IN_REVIEW)
    assert visible_to(request, AUTHORITY) and visible_to(request, CAROL) and visible_to(request, NODE_RU)
    assert not visible_to(request, OTHER_AUTHORITY)
    assert not visible_to(request, Actor("@ivan:ru", "user"))


def test_unknown_roles_take_no_step():
    for step in STEPS:
        with pytest.raises(errors.StepNotPermitted):
            next_state(at(SUBMITTED), step, Actor("@mod:ru", "moderator"), NOW + 1)


# --- rejection -----------------------------------------------------------------------------------

@pytest.mark.parametrize("reason", ["", "   ", "x" * 2001])
def test_a_rejection_needs_a_reason(reason):
    with pytest.raises(errors.ReasonRequired):
        next_state(at(IN_REVIEW), "reject", ALICE, NOW + 5, reason=reason)


def test_a_rejection_keeps_its_reason_and_is_final():
    rejected = next_state(at(SUBMITTED), "reject", ALICE, NOW + 5, reason="  no court seal  ")
    assert rejected.state == REJECTED and rejected.steps[-1].reason == "no court seal"
    assert not rejected.open


# --- expiry --------------------------------------------------------------------------------------

@pytest.mark.parametrize("state", sorted(EXPIRABLE))
def test_past_its_deadline_an_open_request_takes_no_step_but_expire(state):
    request = at(state)
    for step in ("review", "approve", "reject", "export", "deliver"):
        with pytest.raises(errors.RequestExpired):
            next_state(request, step, taker(step), DEADLINE, reason="r")
    assert overdue(request, DEADLINE) and not overdue(request, DEADLINE - 0.001)
    assert effective(request, DEADLINE).state == EXPIRED
    assert effective(request, DEADLINE - 1) == request
    assert next_state(request, "expire", NODE_RU, DEADLINE).state == EXPIRED


def test_expire_before_the_deadline_is_refused():
    with pytest.raises(errors.ForbiddenTransition) as early:
        next_state(at(IN_REVIEW), "expire", NODE_RU, DEADLINE - 1)
    assert "deadline" in early.value.hint


def test_a_delivered_request_does_not_expire_and_can_still_be_closed():
    request = at(DELIVERED)
    assert not overdue(request, DEADLINE + 86_400)
    assert effective(request, DEADLINE + 86_400).state == DELIVERED
    assert next_state(request, "close", AUTHORITY, DEADLINE + 86_400).state == CLOSED


def test_expired_and_final_states_are_not_open():
    assert EXPIRED not in OPEN and at(EXPIRED).open is False


# --- replay ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("state", STATES)
def test_replaying_the_stored_steps_gives_the_same_request(state):
    request = at(state)
    assert replay(submitted(), request.steps) == request


def test_a_history_the_workflow_could_not_have_written_is_corrupt():
    steps = (Step("review", ALICE.id, NOW + 1, role=ALICE.role), Step("approve", ALICE.id, NOW + 2, role=ALICE.role),
             Step("approve", ALICE.id, NOW + 3, role=ALICE.role))
    with pytest.raises(errors.LawfulStoreCorrupt, match="step 3"):
        replay(submitted(), steps)


# --- submissions ---------------------------------------------------------------------------------

def draft(**changes) -> Draft:
    base = Draft(subject="@ivan:ru", categories=("content", "metadata"), since=NOW - 86_400, until=NOW,
                 deadline=DEADLINE, basis=BASIS)
    return replace(base, **changes)


def test_a_good_draft_is_normalised():
    checked = check_draft(draft(categories=("sessions", "metadata", "sessions")), region="ru", now=NOW)
    assert checked.categories == ("metadata", "sessions")


def test_a_foreign_subject_is_referred_to_its_region():
    with pytest.raises(errors.ForeignSubject) as foreign:
        check_draft(draft(subject="@olzhas:kz"), region="ru", now=NOW)
    assert foreign.value.code == "foreign_subject"
    assert foreign.value.region == "kz" and foreign.value.hint == "ask the kz node"


@pytest.mark.parametrize("subject", ["ivan", "@iv:ru", "@ivan:us", "@Ivan:ru", ""])
def test_a_subject_that_is_not_an_account_id_is_unknown(subject):
    with pytest.raises(errors.UnknownSubject):
        check_draft(draft(subject=subject), region="ru", now=NOW)


@pytest.mark.parametrize("categories", [(), ("metadata", "passwords"), ("everything",), ("Content",)])
def test_categories_outside_the_catalogue_are_out_of_scope(categories):
    with pytest.raises(errors.OutOfScopeCategory) as refused:
        check_draft(draft(categories=categories), region="ru", now=NOW)
    assert refused.value.code == "out_of_scope_category"
    assert all(category in refused.value.hint for category in CATEGORIES)


@pytest.mark.parametrize(("since", "until"), [(NOW, NOW), (NOW, NOW - 1), (float("nan"), NOW), (-5, NOW)])
def test_an_empty_or_bad_time_range_is_refused(since, until):
    with pytest.raises(errors.BadTimeRange):
        check_draft(draft(since=since, until=until), region="ru", now=NOW)


@pytest.mark.parametrize("deadline", [NOW, NOW - 1, float("inf")])
def test_a_deadline_must_lie_ahead(deadline):
    with pytest.raises(errors.BadDeadline):
        check_draft(draft(deadline=deadline), region="ru", now=NOW)


@pytest.mark.parametrize("changes", [
    {"kind": "phone_call"}, {"kind": ""}, {"number": ""}, {"number": "  "}, {"number": "x\n1"},
    {"issuer": ""}, {"issuer": "c" * 201}, {"date": "20.11.2026"}, {"date": "2026-02-30"},
    {"date": "2030-01-01"},   # dated after NOW (2027-01-15)
    {"document_hash": "AB" * 32}, {"document_hash": "ab" * 31}, {"document_hash": "zz" * 32}, {"document_hash": ""},
], ids=lambda changes: ",".join(f"{k}={str(v)[:12]}" for k, v in changes.items()))
def test_a_malformed_legal_basis_is_refused(changes):
    with pytest.raises(errors.BadLegalBasis) as refused:
        check_draft(draft(basis=replace(BASIS, **changes)), region="ru", now=NOW)
    assert refused.value.code == "bad_legal_basis"


def test_the_node_actor():
    assert node_actor("by") == Actor("node:by", NODE)
