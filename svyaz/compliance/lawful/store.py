"""`MongoLawfulStore`: lawful-access requests in the node's `<prefix>_compliance` database, the
`RequestStore` of `svyaz.compliance.lawful.workflow` (pymongo in trio worker threads).

Collections:

    lawful_requests   one document per request, `_id` = the request id (`lr-<region>-<16 hex>`):
                      what the authority submitted, never changed after the insert
                      {region, authority, subject, categories, since, until, deadline, submitted_at,
                       basis: {kind, number, date, issuer, document_hash}}
    lawful_steps      one document per step taken, `_id` = `<request id>#<step number, 3 digits>`
                      {request, region, n, name, actor, role, at, reason}

The state is never stored: it is derived from the steps (`workflow.replay`), so there is nothing
to update in place. Why: FerretDB serves only `_id` equality from an index, has no transactions,
and runs a conditional update as a read then a write, so two officers approving "at the same
moment" through `update_one({"state": ...})` could both succeed and one approval be lost or a third
counted. An insert with a unique `_id` is atomic, so a step is an insert of step number n + 1
after reading steps 1..n: of two concurrent steps decided on the same history exactly one insert
succeeds, and `append_step` tells the other (False) to read the history again and decide again
(the workflow's retry loop). Steps of a request are therefore numbered 1, 2, ... without gaps.

Reading one request is a point read of the request and one per step (probing `#001`, `#002`, ...
until one is missing: a handful). Reading a region (`all`, `open_subjects`) is two filtered scans,
one per collection, which FerretDB does without an index; a node holds thousands of requests at
most, not millions.

For the other parts of issue 6:

    await store.all(region)                      -> list[LawfulRequest]  every request, oldest first,
                                                                          with its state and steps
    await store.open_subjects(region, now=None)  -> set[str]   subjects of requests open (model.OPEN)
                                                               at `now`; an overdue request that
                                                               nobody has expired yet is not open
    await store.get(request_id)                  -> LawfulRequest | None

Build one with `MongoLawfulStore(client[f"{prefix}_compliance"], limiter)`; it needs no indexes
beyond `_id`. `lawful_requests(database, limiter, audit, region=, account_exists=)` builds the use
cases over it, as the node wires them (any number of instances may share the database: they
coordinate through the store alone).
"""

from __future__ import annotations

import functools
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import trio
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError

from svyaz.compliance.lawful.errors import LawfulStoreCorrupt, LawfulStoreUnavailable
from svyaz.compliance.lawful.model import OPEN, LawfulRequest, LegalBasis, Step
from svyaz.compliance.audit.event import AuditSink
from svyaz.compliance.lawful.workflow import AccountExists, LawfulRequests, effective, replay

P = ParamSpec("P")
T = TypeVar("T")

REQUESTS = "lawful_requests"
STEPS = "lawful_steps"
MAX_STEPS = 999   # far more than the workflow's longest path (seven steps)


def _blocking(function: Callable[P, T]) -> Callable[P, T]:
    """Driver errors become LawfulStoreUnavailable (the API answers `store_unavailable`)."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return function(*args, **kwargs)
        except DuplicateKeyError:
            raise
        except PyMongoError as err:
            raise LawfulStoreUnavailable(
                f"the compliance store did not answer: {str(err).split(', Timeout:')[0]}") from err

    return wrapper


def step_id(request_id: str, number: int) -> str:
    return f"{request_id}#{number:03d}"


class MongoLawfulStore:
    def __init__(self, database: Database, limiter: trio.CapacityLimiter) -> None:
        self._requests = database[REQUESTS]
        self._steps = database[STEPS]
        self._limiter = limiter

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        return await trio.to_thread.run_sync(function, *args, limiter=self._limiter)

    async def create(self, request: LawfulRequest) -> None:
        await self._run(self._create, request)

    @_blocking
    def _create(self, request: LawfulRequest) -> None:
        try:
            self._requests.insert_one(request_document(request))
        except DuplicateKeyError:
            raise LawfulStoreUnavailable(f"a request {request.id} exists already; submit again") from None

    async def get(self, request_id: str) -> LawfulRequest | None:
        return await self._run(self._get, request_id)

    @_blocking
    def _get(self, request_id: str) -> LawfulRequest | None:
        document = self._requests.find_one({"_id": request_id})
        if document is None:
            return None
        steps = []
        while len(steps) < MAX_STEPS:
            step = self._steps.find_one({"_id": step_id(request_id, len(steps) + 1)})
            if step is None:
                break
            steps.append(step)
        return _request(document, steps)

    async def append_step(self, request: LawfulRequest, step: Step) -> bool:
        return await self._run(self._append_step, request, step)

    @_blocking
    def _append_step(self, request: LawfulRequest, step: Step) -> bool:
        number = len(request.steps) + 1
        try:
            self._steps.insert_one({
                "_id": step_id(request.id, number), "request": request.id, "region": request.region, "n": number,
                "name": step.name, "actor": step.actor, "role": step.role, "at": step.at, "reason": step.reason,
            })
        except DuplicateKeyError:
            return False
        return True

    async def all(self, region: str) -> list[LawfulRequest]:
        return await self._run(self._all, region)

    @_blocking
    def _all(self, region: str) -> list[LawfulRequest]:
        documents = list(self._requests.find({"region": region}))
        steps: dict[str, dict[int, dict]] = defaultdict(dict)
        for step in self._steps.find({"region": region}):
            steps[step.get("request", "")][step.get("n", 0)] = step
        requests = []
        for document in documents:
            numbered = steps.get(document["_id"], {})
            history = []
            while len(history) + 1 in numbered:   # 1, 2, ... without gaps, as append_step writes them
                history.append(numbered[len(history) + 1])
            requests.append(_request(document, history))
        return sorted(requests, key=lambda request: (request.submitted_at, request.id))

    async def open_subjects(self, region: str, *, now: float | None = None) -> set[str]:
        moment = time.time() if now is None else now
        return {request.subject for request in await self.all(region) if effective(request, moment).state in OPEN}


def lawful_requests(database: Database, limiter: trio.CapacityLimiter, audit: AuditSink, *, region: str,
                    account_exists: AccountExists) -> LawfulRequests:
    """The workflow's use cases over this store in `database` (the node's `<prefix>_compliance`)."""
    return LawfulRequests(MongoLawfulStore(database, limiter), audit, region=region, account_exists=account_exists)


def request_document(request: LawfulRequest) -> dict[str, Any]:
    basis = request.basis
    return {
        "_id": request.id, "region": request.region, "authority": request.authority, "subject": request.subject,
        "categories": list(request.categories), "since": request.since, "until": request.until,
        "deadline": request.deadline, "submitted_at": request.submitted_at,
        "basis": {"kind": basis.kind, "number": basis.number, "date": basis.date, "issuer": basis.issuer,
                  "document_hash": basis.document_hash},
    }


def _request(document: dict[str, Any], steps: list[dict[str, Any]]) -> LawfulRequest:
    try:
        basis = document["basis"]
        submitted = LawfulRequest(
            id=document["_id"], region=document["region"], authority=document["authority"],
            subject=document["subject"], categories=tuple(document["categories"]), since=document["since"],
            until=document["until"], deadline=document["deadline"], submitted_at=document["submitted_at"],
            basis=LegalBasis(kind=basis["kind"], number=basis["number"], date=basis["date"], issuer=basis["issuer"],
                             document_hash=basis["document_hash"]))
        history = [Step(name=step["name"], actor=step["actor"], at=step["at"], reason=step.get("reason", ""),
                        role=step.get("role", "")) for step in steps]
    except (KeyError, TypeError) as err:
        raise LawfulStoreCorrupt(f"stored request {document.get('_id')!r} is missing {err}") from None
    return replay(submitted, history)
