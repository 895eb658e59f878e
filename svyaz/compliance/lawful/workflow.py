"""The lawful-access request workflow: the rules of each step (pure) and the use cases that apply
them through a store port and write every step to the audit log (issue 6; docs/compliance.md,
"The request workflow").

No trio and no driver here: the use cases are coroutines over two ports, `RequestStore` (the
adapter is `svyaz.compliance.lawful.store.MongoLawfulStore`) and the audit log's `AuditSink`, plus
`account_exists` (does this region have that account?). Unit tests run them with fakes.

Pure rules (use them anywhere, e.g. in a report or a purge):

    check_draft(draft, region=, now=) -> Draft              validate a submission (not the subject's existence)
    next_state(request, step, actor, now, reason="") -> LawfulRequest
                                                            the request after `step`, or a typed refusal
    replay(submitted, steps) -> LawfulRequest                the request its stored steps make
    overdue(request, now) -> bool                            past its deadline in an expirable state
    effective(request, now) -> LawfulRequest                 as it stands at `now` (overdue reads as expired)
    visible_to(request, actor) -> bool                       officers see the region's, an authority its own

Use cases (`LawfulRequests`; every method takes the caller as an `Actor` and the API call's id,
`call_id`, which becomes the audit entry's `request_id`):

    submit(actor, draft, call_id=)                  -> LawfulRequest   authority
    list(actor, call_id=, state=None)               -> list[LawfulRequest]   authority: its own; officer: the region's
    show(actor, request_id, call_id=)               -> LawfulRequest
    review / approve / export / deliver / close(actor, request_id, call_id=, action=...) -> LawfulRequest
    reject(actor, request_id, reason, call_id=)     -> LawfulRequest
    expire_overdue(now=None)                        -> list[str]        ids it expired (the node's periodic sweep)
    find(request_id)                                -> LawfulRequest | None   no audit entry: for use cases
                                                                        that audit their own call (the export)
    all() / open_subjects(now=None)                                     this region's requests / subjects under hold

Who takes which step (STEP_ROLES): review, approve, reject and export are a security officer's;
deliver and close are an officer's or the submitting authority's; expire is the node's own
(`node_actor(region)`). An authority acting on a request that is not its own is told
`unknown_request`: it never learns whether another authority's request exists.

Four-eyes: two DISTINCT security officers approve, neither of them the submitter (checked by
account, so an account that submitted as an authority and later became an officer still cannot
approve its own request); the same officer approving again is refused (`already_approved`) and
changes nothing.

Expiry is lazy and eager at once: every read and every step first turns an overdue request into
`expired` (stored and audited, actor `node:<region>`), and `expire_overdue` does the same for the
whole region when the node runs it. Store reads that skip the use cases (`open_subjects`, `all`)
apply the deadline themselves, so a request nobody has looked at since its deadline is not open.

Concurrency: a step is stored as its own document numbered after the steps it was decided on
(`RequestStore.append_step`); if another step took that number first, the use case reads the
request again and decides again on the new history (at most `MAX_ATTEMPTS` times). Two officers
approving at once thus end in one approved request with two approvals; the same officer twice
records one approval (the second attempt sees the first and is refused `already_approved`).

Audit: each use case writes one entry per call with the request id as `target`, the step in
`detail.step`, and the outcome: `success` (with `detail.state`, `detail.approvals`) after the step
is stored, or `denied` (with `detail.reason`, the error's code) for a refusal. Entries never hold
the legal basis, the rejection's text, the subject or any message content. The guard has already
written the `allowed` entry of a privileged API action before the use case runs. If the `success`
entry cannot be written, AuditUnavailable reaches the caller although the step stands (the
`allowed` entry records the attempt); a refusal is refused even when its entry cannot be written.
"""

from __future__ import annotations

import logging
import math
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Protocol

from svyaz.compliance.audit.event import AuditEvent, AuditSink, AuditUnavailable
from svyaz.compliance.lawful.errors import (
    AlreadyApproved,
    BadDeadline,
    BadLegalBasis,
    BadTimeRange,
    ForbiddenTransition,
    ForeignSubject,
    LawfulError,
    LawfulStoreCorrupt,
    OutOfScopeCategory,
    ReasonRequired,
    RequestExpired,
    StepContended,
    StepNotPermitted,
    SubmitterCannotApprove,
    UnknownRequest,
    UnknownSubject,
)
from svyaz.compliance.lawful.model import (
    APPROVALS_NEEDED,
    APPROVED,
    BASIS_KINDS,
    CATEGORIES,
    EXPIRABLE,
    EXPIRED,
    IN_REVIEW,
    STEPS,
    SUBMITTED,
    LawfulRequest,
    LegalBasis,
    Step,
)
from svyaz.identity.accounts import parse_account_id
from svyaz.identity.errors import MalformedAccountId
from svyaz.rbac.roles import AUTHORITY, SECURITY_OFFICER

logger = logging.getLogger("svyaz.compliance.lawful.workflow")

REVIEW, APPROVE, REJECT, EXPORT, DELIVER, CLOSE, EXPIRE = (
    "review", "approve", "reject", "export", "deliver", "close", "expire")
SUBMIT = "submit"
NODE = "node"   # the role of the node itself, for the steps nobody asks for (expiry)

STEP_ROLES: Mapping[str, frozenset[str]] = {
    REVIEW: frozenset({SECURITY_OFFICER}),
    APPROVE: frozenset({SECURITY_OFFICER}),
    REJECT: frozenset({SECURITY_OFFICER}),
    EXPORT: frozenset({SECURITY_OFFICER}),
    DELIVER: frozenset({SECURITY_OFFICER, AUTHORITY}),
    CLOSE: frozenset({SECURITY_OFFICER, AUTHORITY}),
    EXPIRE: frozenset({NODE}),
}
# The action each use case names in its audit entry by default (the API's, where there is one).
ACTIONS: Mapping[str, str] = {
    SUBMIT: "lawful.request.submit", REVIEW: "lawful.request.review", APPROVE: "lawful.request.approve",
    REJECT: "lawful.request.reject", CLOSE: "lawful.request.close", EXPORT: "lawful.request.export",
    DELIVER: "lawful.request.deliver", EXPIRE: "lawful.request.expire",
    "list": "lawful.request.list", "show": "lawful.request.show",
}

MAX_ATTEMPTS = 20          # decide-and-append rounds before a step gives up (`step_contended`)
REASON_LIMIT = 2000
BASIS_TEXT_LIMIT = 200
_HEX64 = re.compile(r"[0-9a-f]{64}")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Actor:
    """Who takes a step: an account id and the role the guard allowed it under (`authority`,
    `security_officer`), or the node itself (`node_actor`)."""

    id: str
    role: str


def node_actor(region: str) -> Actor:
    return Actor(f"node:{region}", NODE)


@dataclass(frozen=True)
class Draft:
    """What an authority submits. Times are Unix seconds; `check_draft` normalises `categories`
    (model.CATEGORIES order, no repeats)."""

    subject: str
    categories: tuple[str, ...]
    since: float
    until: float
    deadline: float
    basis: LegalBasis


# --- pure rules --------------------------------------------------------------------------------

def check_draft(draft: Draft, *, region: str, now: float) -> Draft:
    """The draft with its categories normalised, or the first reason it cannot be submitted in
    `region` at `now`. Whether the subject's account exists is the use case's question."""
    try:
        subject = parse_account_id(draft.subject)
    except MalformedAccountId as err:
        raise UnknownSubject(f"the subject must be an account id: {err}", hint=err.hint) from None
    if subject.region != region:
        raise ForeignSubject(str(subject), subject.region, region)
    if not draft.categories:
        raise OutOfScopeCategory("a request names at least one data category",
                                 hint=f"categories: {', '.join(CATEGORIES)}")
    for category in draft.categories:
        if category not in CATEGORIES:
            raise OutOfScopeCategory(f"{str(category)[:40]!r} is not a data category a request may ask for",
                                     hint=f"categories: {', '.join(CATEGORIES)}")
    for name in ("since", "until", "deadline"):
        value = getattr(draft, name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            error = BadDeadline if name == "deadline" else BadTimeRange
            raise error(f"{name} must be a time in Unix seconds")
    if not draft.since < draft.until:
        raise BadTimeRange("the time range is empty: since must come before until")
    if not draft.deadline > now:
        raise BadDeadline("the deadline has passed already", hint="give a deadline in the future")
    check_basis(draft.basis, now=now)
    categories = tuple(category for category in CATEGORIES if category in draft.categories)
    return replace(draft, subject=str(subject), categories=categories, since=float(draft.since),
                   until=float(draft.until), deadline=float(draft.deadline))


def check_basis(basis: LegalBasis, *, now: float) -> None:
    """BadLegalBasis naming the first field that is missing or malformed."""
    if basis.kind not in BASIS_KINDS:
        raise BadLegalBasis(f"the legal basis kind {str(basis.kind)[:40]!r} is not one this node accepts",
                            hint=f"kinds: {', '.join(BASIS_KINDS)}")
    for name in ("number", "issuer"):
        value = getattr(basis, name)
        if not isinstance(value, str) or not value.strip():
            raise BadLegalBasis(f"the legal basis needs its document's {name}")
        if len(value) > BASIS_TEXT_LIMIT or not value.isprintable():
            raise BadLegalBasis(f"the legal basis {name} must be printable and at most {BASIS_TEXT_LIMIT} characters")
    if not isinstance(basis.date, str) or not _ISO_DATE.fullmatch(basis.date):
        raise BadLegalBasis("the legal basis date must be an ISO date, YYYY-MM-DD")
    try:
        issued = date.fromisoformat(basis.date)
    except ValueError:
        raise BadLegalBasis(f"the legal basis date {basis.date} is not a calendar date") from None
    if issued > datetime.fromtimestamp(now, UTC).date():
        raise BadLegalBasis(f"the legal basis is dated {basis.date}, in the future")
    if not isinstance(basis.document_hash, str) or not _HEX64.fullmatch(basis.document_hash):
        raise BadLegalBasis("the document hash must be its Streebog-256 digest: 64 lowercase hex digits",
                            hint="`svyaz lawful submit --document FILE` computes it")


def overdue(request: LawfulRequest, now: float) -> bool:
    """Past its deadline in a state that expiry ends (a delivered request waits for `close`)."""
    return request.state in EXPIRABLE and now >= request.deadline


def effective(request: LawfulRequest, now: float) -> LawfulRequest:
    """The request as it stands at `now`: an overdue one is expired even before that is stored."""
    return replace(request, state=EXPIRED) if overdue(request, now) else request


def visible_to(request: LawfulRequest, actor: Actor) -> bool:
    """Officers (and the node) see every request of the region; an authority only its own."""
    if actor.role in (SECURITY_OFFICER, NODE):
        return True
    return actor.role == AUTHORITY and actor.id == request.authority


def next_state(request: LawfulRequest, step: str, actor: Actor, now: float, *, reason: str = "") -> LawfulRequest:
    """`request` after `actor` takes `step` at `now`, with the step appended; a typed LawfulError
    if the step is refused. Checked in this order: the step exists and is the actor's role's; an
    authority's own request; expiry; the four-eyes rules of `approve`; the state table (STEPS);
    a rejection's reason."""
    if step not in STEPS:
        raise ForbiddenTransition(str(step)[:40], request.state, hint=f"steps: {', '.join(STEPS)}")
    if actor.role not in STEP_ROLES[step]:
        raise StepNotPermitted(f"the role {actor.role} does not take the step {step}")
    if actor.role == AUTHORITY and actor.id != request.authority:
        raise UnknownRequest(f"no request {request.id} of yours")
    if step == EXPIRE:
        if request.state not in EXPIRABLE:
            raise ForbiddenTransition(step, request.state)
        if now < request.deadline:
            raise ForbiddenTransition(step, request.state, hint="its deadline has not passed")
        return _taken(request, step, actor, now, EXPIRED)
    if request.state == EXPIRED or overdue(request, now):
        raise RequestExpired(f"request {request.id} expired at its deadline "
                             f"{datetime.fromtimestamp(request.deadline, UTC):%Y-%m-%d %H:%M} UTC",
                             hint="submit a new request if it is still needed")
    approvals = request.approvals
    if step == APPROVE:
        if actor.id == request.authority:
            raise SubmitterCannotApprove(f"{actor.id} submitted request {request.id} and cannot approve it")
        if actor.id in approvals:
            raise AlreadyApproved(f"{actor.id} has approved request {request.id} already; "
                                  "a second officer must approve it")
    sources, target = STEPS[step]
    if request.state not in sources:
        raise ForbiddenTransition(step, request.state, hint=_next_steps_hint(request))
    if step == REJECT:
        reason = reason.strip() if isinstance(reason, str) else ""
        if not reason:
            raise ReasonRequired("a rejection needs a reason", hint="say why, e.g. --reason 'the order is unsigned'")
        if len(reason) > REASON_LIMIT:
            raise ReasonRequired(f"the reason is longer than {REASON_LIMIT} characters")
    else:
        reason = ""
    if step == APPROVE:
        approvals = approvals + (actor.id,)
        target = APPROVED if len(approvals) >= APPROVALS_NEEDED else IN_REVIEW
    return _taken(request, step, actor, now, target, approvals=approvals, reason=reason)


def _taken(request: LawfulRequest, step: str, actor: Actor, now: float, state: str, *,
           approvals: tuple[str, ...] | None = None, reason: str = "") -> LawfulRequest:
    return replace(request, state=state, approvals=request.approvals if approvals is None else approvals,
                   steps=request.steps + (Step(step, actor.id, now, reason, actor.role),))


def _next_steps_hint(request: LawfulRequest) -> str:
    possible = [name for name, (sources, _) in STEPS.items() if request.state in sources and name != EXPIRE]
    if not possible:
        return f"a request in state {request.state} takes no further step"
    return f"from {request.state} the next step is {' or '.join(possible)}"


def replay(submitted: LawfulRequest, steps: Iterable[Step]) -> LawfulRequest:
    """The request its stored steps make, each checked again by `next_state` at its own time.
    LawfulStoreCorrupt if the history is not one the workflow could have written."""
    request = replace(submitted, state=SUBMITTED, approvals=(), steps=())
    for number, step in enumerate(steps, start=1):
        try:
            request = next_state(request, step.name, Actor(step.actor, step.role), step.at, reason=step.reason)
        except LawfulError as err:
            raise LawfulStoreCorrupt(f"request {submitted.id}: stored step {number} ({step.name}) "
                                     f"is not a valid step: {err}") from err
    return request


# --- ports -------------------------------------------------------------------------------------

class RequestStore(Protocol):
    async def create(self, request: LawfulRequest) -> None:
        """Store a new request (no steps yet)."""

    async def get(self, request_id: str) -> LawfulRequest | None:
        """The request with its stored steps replayed, or None."""

    async def append_step(self, request: LawfulRequest, step: Step) -> bool:
        """Store `step` as step number len(request.steps) + 1. False if that number is taken (a
        concurrent step landed first): read the request again and decide again."""

    async def all(self, region: str) -> list[LawfulRequest]:
        """Every request of `region`, steps replayed, oldest first."""

    async def open_subjects(self, region: str, *, now: float | None = None) -> set[str]:
        """Subjects of `region`'s requests that are open (model.OPEN) at `now` (default: the clock)."""


AccountExists = Callable[[str], Awaitable[bool]]


# --- use cases ---------------------------------------------------------------------------------

class LawfulRequests:
    def __init__(self, store: RequestStore, audit: AuditSink, *, region: str, account_exists: AccountExists,
                 clock: Callable[[], float] = time.time, new_id: Callable[[str], str] | None = None) -> None:
        self._store = store
        self._audit = audit
        self._region = region
        self._account_exists = account_exists
        self._clock = clock
        self._new_id = new_id or new_request_id
        self._node = node_actor(region)

    @property
    def region(self) -> str:
        return self._region

    # --- submission and reading ------------------------------------------------------------------

    async def submit(self, actor: Actor, draft: Draft, *, call_id: str,
                     action: str = ACTIONS[SUBMIT]) -> LawfulRequest:
        now = self._clock()
        try:
            if actor.role != AUTHORITY:
                raise StepNotPermitted(f"the role {actor.role} does not submit requests")
            checked = check_draft(draft, region=self._region, now=now)
            if not await self._account_exists(checked.subject):
                raise UnknownSubject(f"{checked.subject} is not an account of region {self._region}")
        except LawfulError as err:
            extra = {"subject_region": err.region} if isinstance(err, ForeignSubject) else {}
            await self._refused(actor, SUBMIT, "-", err, call_id=call_id, action=action, **extra)
            raise
        request = LawfulRequest(
            id=self._new_id(self._region), region=self._region, authority=actor.id, subject=checked.subject,
            categories=checked.categories, since=checked.since, until=checked.until, deadline=checked.deadline,
            basis=checked.basis, state=SUBMITTED, submitted_at=now)
        await self._store.create(request)
        await self._record(actor, action, request.id, "success", call_id=call_id, step=SUBMIT, state=SUBMITTED,
                           categories=",".join(request.categories))
        return request

    async def list(self, actor: Actor, *, call_id: str, state: str | None = None,
                   action: str = ACTIONS["list"]) -> list[LawfulRequest]:
        """An authority's own requests, or (officer) the region's; oldest first; `state` filters."""
        now = self._clock()
        requests = []
        for request in await self._store.all(self._region):
            if not visible_to(request, actor):
                continue
            if overdue(request, now):
                request = await self._expire(request, now, call_id=call_id)
            if state is None or request.state == state:
                requests.append(request)
        await self._record(actor, action, "-", "success", call_id=call_id, read="list", count=str(len(requests)),
                           **({"state": state} if state else {}))
        return requests

    async def show(self, actor: Actor, request_id: str, *, call_id: str,
                   action: str = ACTIONS["show"]) -> LawfulRequest:
        request = await self._visible(actor, request_id, "show", call_id=call_id, action=action)
        await self._record(actor, action, request.id, "success", call_id=call_id, read="show", state=request.state)
        return request

    async def find(self, request_id: str) -> LawfulRequest | None:
        """The request as it stands (an overdue one is expired first), without an audit entry of
        its own: for use cases that audit their call themselves."""
        return await self._current(request_id, self._clock(), call_id=f"find-{uuid.uuid4().hex}")

    async def all(self) -> list[LawfulRequest]:
        """Every request of this region as stored (overdue ones read as expired; nothing written)."""
        now = self._clock()
        return [effective(request, now) for request in await self._store.all(self._region)]

    async def open_subjects(self, now: float | None = None) -> set[str]:
        return await self._store.open_subjects(self._region, now=self._clock() if now is None else now)

    # --- steps -----------------------------------------------------------------------------------

    async def review(self, actor: Actor, request_id: str, *, call_id: str, action: str = ACTIONS[REVIEW]) -> LawfulRequest:
        return await self._take(actor, request_id, REVIEW, call_id=call_id, action=action)

    async def approve(self, actor: Actor, request_id: str, *, call_id: str, action: str = ACTIONS[APPROVE]) -> LawfulRequest:
        return await self._take(actor, request_id, APPROVE, call_id=call_id, action=action)

    async def reject(self, actor: Actor, request_id: str, reason: str, *, call_id: str,
                     action: str = ACTIONS[REJECT]) -> LawfulRequest:
        return await self._take(actor, request_id, REJECT, call_id=call_id, action=action, reason=reason)

    async def export(self, actor: Actor, request_id: str, *, call_id: str, action: str = ACTIONS[EXPORT]) -> LawfulRequest:
        """approved -> exported: the export engine calls it once the bundle is produced."""
        return await self._take(actor, request_id, EXPORT, call_id=call_id, action=action)

    async def deliver(self, actor: Actor, request_id: str, *, call_id: str, action: str = ACTIONS[DELIVER]) -> LawfulRequest:
        """exported -> delivered: when the authority has the bundle."""
        return await self._take(actor, request_id, DELIVER, call_id=call_id, action=action)

    async def close(self, actor: Actor, request_id: str, *, call_id: str, action: str = ACTIONS[CLOSE]) -> LawfulRequest:
        return await self._take(actor, request_id, CLOSE, call_id=call_id, action=action)

    async def expire_overdue(self, now: float | None = None) -> list[str]:
        """Store (and audit) the expiry of every overdue request of the region; the ids expired."""
        now = self._clock() if now is None else now
        call_id = f"sweep-{uuid.uuid4().hex}"
        expired = []
        for request in await self._store.all(self._region):
            if overdue(request, now) and (await self._expire(request, now, call_id=call_id)).state == EXPIRED:
                expired.append(request.id)
        return expired

    async def _take(self, actor: Actor, request_id: str, step: str, *, call_id: str, action: str,
                    reason: str = "") -> LawfulRequest:
        for _ in range(MAX_ATTEMPTS):
            now = self._clock()
            request = await self._visible(actor, request_id, step, call_id=call_id, action=action, now=now)
            try:
                taken = next_state(request, step, actor, now, reason=reason)
            except LawfulError as err:
                await self._refused(actor, step, request.id, err, call_id=call_id, action=action)
                raise
            if await self._store.append_step(request, taken.steps[-1]):
                await self._record(actor, action, taken.id, "success", call_id=call_id, step=step, state=taken.state,
                                   approvals=str(len(taken.approvals)))
                return taken
            # Another step took this number first: decide again on the history as it is now.
        error = StepContended(f"request {request_id} kept changing while {step} was being decided",
                              hint="try again")
        await self._refused(actor, step, request_id, error, call_id=call_id, action=action)
        raise error

    async def _visible(self, actor: Actor, request_id: str, step: str, *, call_id: str, action: str,
                       now: float | None = None) -> LawfulRequest:
        request = await self._current(request_id, self._clock() if now is None else now, call_id=call_id)
        if request is None or request.region != self._region or not visible_to(request, actor):
            error = UnknownRequest(f"no request {request_id[:64]} in region {self._region}"
                                   + (" of yours" if actor.role == AUTHORITY else ""))
            await self._refused(actor, step, request_id[:64], error, call_id=call_id, action=action)
            raise error
        return request

    async def _current(self, request_id: str, now: float, *, call_id: str) -> LawfulRequest | None:
        request = await self._store.get(request_id)
        if request is not None and overdue(request, now):
            return await self._expire(request, now, call_id=call_id)
        return request

    async def _expire(self, request: LawfulRequest, now: float, *, call_id: str) -> LawfulRequest:
        """Store and audit the expiry of an overdue request (the entry carries the id of the call
        that noticed it); if another step lands first, the request as it is then (expired by
        someone else, or moved on before its deadline)."""
        for _ in range(MAX_ATTEMPTS):
            if not overdue(request, now):
                return request
            expired = next_state(request, EXPIRE, self._node, now)
            if await self._store.append_step(request, expired.steps[-1]):
                await self._record(self._node, ACTIONS[EXPIRE], request.id, "success", call_id=call_id,
                                   step=EXPIRE, state=EXPIRED, was=request.state)
                return expired
            fresh = await self._store.get(request.id)
            if fresh is None:
                raise LawfulStoreCorrupt(f"request {request.id} disappeared while expiring")
            request = fresh
        raise StepContended(f"request {request.id} kept changing while it was being expired", hint="try again")

    # --- audit -----------------------------------------------------------------------------------

    async def _record(self, actor: Actor, action: str, target: str, outcome: str, *, call_id: str,
                      **detail: str) -> None:
        await self._audit.record(AuditEvent(
            actor=actor.id, role=actor.role, action=action, target=target, region=self._region,
            request_id=call_id, outcome=outcome, detail=dict(detail)))

    async def _refused(self, actor: Actor, step: str, target: str, error: LawfulError, *, call_id: str,
                       action: str, **detail: str) -> None:
        """Audit a refusal; the caller is refused even if the audit log cannot be written (the
        missing entry is logged, as the guard does for its denials)."""
        try:
            await self._record(actor, action, target, "denied", call_id=call_id, step=step, reason=error.code,
                               **detail)
        except AuditUnavailable as err:
            logger.error("a refused lawful-access step could not be written to the audit log",
                         extra={"action": action, "actor": actor.id, "target": target, "error": str(err)})


def new_request_id(region: str) -> str:
    """`lr-<region>-<16 hex>`: unguessable, and safe in file names and URLs."""
    return f"lr-{region}-{secrets.token_hex(8)}"
