"""The request store on the real ru FerretDB: concurrent approvals race the way two node processes
would (two clients, two audit logs, one database), and the outcome is always one approved request
with exactly the approvals the rules allow.

`Gate` holds each racer between its read and its insert until every racer has read, so every
round really has two decisions made on the same history: one insert wins, the other meets the
unique step id and decides again (`MongoLawfulStore.append_step` answers False). Identity is not
part of this: `account_exists` is a plain function, the subject being any resident id.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import pytest
import trio
from pymongo import MongoClient

from svyaz.compliance.audit.log import open_audit_log
from svyaz.compliance.lawful import errors
from svyaz.compliance.lawful.model import APPROVED, IN_REVIEW, OPEN, LawfulRequest, LegalBasis, Step
from svyaz.compliance.lawful.store import MongoLawfulStore, step_id
from svyaz.compliance.lawful.workflow import Actor, Draft, LawfulRequests

ROUNDS = 6
AUTHORITY = Actor("@fsb_moscow:ru", "authority")
ALICE = Actor("@alice_officer:ru", "security_officer")
BORIS = Actor("@boris_officer:ru", "security_officer")
BASIS = LegalBasis("court_order", "3/12-2026", "2026-11-20", "Meshchansky District Court", "cd" * 32)


class Gate:
    """A store that lets no step be appended until `parties` callers are waiting to append."""

    def __init__(self, store: MongoLawfulStore, shared: dict) -> None:
        self._store = store
        self._shared = shared
        self.conflicts = 0

    def __getattr__(self, name):
        return getattr(self._store, name)

    async def append_step(self, request: LawfulRequest, step: Step) -> bool:
        shared = self._shared
        if shared.get("armed"):
            shared["waiting"] += 1
            if shared["waiting"] >= shared["parties"]:
                shared["armed"] = False
                shared["open"].set()
            await shared["open"].wait()
        stored = await self._store.append_step(request, step)
        self.conflicts += not stored
        return stored


@pytest.fixture
def shared() -> dict:
    return {}


def arm(shared: dict, parties: int = 2) -> None:
    shared.update(armed=True, waiting=0, parties=parties, open=trio.Event())


@asynccontextmanager
async def open_process(url: str, prefix: str, shared: dict) -> AsyncIterator[tuple[LawfulRequests, Gate]]:
    """One node process's worth: its own client, store adapter and audit log."""
    client = await trio.to_thread.run_sync(partial(MongoClient, url, serverSelectionTimeoutMS=5000))
    try:
        async with open_audit_log(url, prefix) as audit:
            gate = Gate(MongoLawfulStore(client[f"{prefix}_compliance"], trio.CapacityLimiter(4)), shared)

            async def exists(account: str) -> bool:
                return True

            yield LawfulRequests(gate, audit, region="ru", account_exists=exists), gate
    finally:
        client.close()


@pytest.fixture
async def two_processes(stack, test_id, shared):
    url = stack.mongo("ru")
    async with open_process(url, test_id, shared) as one, open_process(url, test_id, shared) as two:
        yield one, two
    with MongoClient(url) as client:
        client.drop_database(f"{test_id}_compliance")


async def in_review(requests: LawfulRequests, subject: str) -> str:
    draft = Draft(subject=subject, categories=("metadata",), since=time.time() - 86_400, until=time.time(),
                  deadline=time.time() + 3600, basis=BASIS)
    request = await requests.submit(AUTHORITY, draft, call_id="submit")
    await requests.review(ALICE, request.id, call_id="review")
    return request.id


async def race(*calls) -> list:
    """Run the calls at once; each result is the request, or the LawfulError it raised."""
    results: list = [None] * len(calls)

    async def run(n, call):
        try:
            results[n] = await call()
        except errors.LawfulError as err:
            results[n] = err

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            for n, call in enumerate(calls):
                nursery.start_soon(run, n, call)
    return results


async def test_two_officers_approving_at_once_make_one_approved_request_with_two_approvals(two_processes, shared):
    (first, first_gate), (second, second_gate) = two_processes
    for round_ in range(ROUNDS):
        request_id = await in_review(first, f"@subject{round_}:ru")
        arm(shared)
        results = await race(partial(first.approve, ALICE, request_id, call_id=f"a{round_}"),
                             partial(second.approve, BORIS, request_id, call_id=f"b{round_}"))

        stored = await first.find(request_id)
        assert all(isinstance(result, LawfulRequest) for result in results), results
        assert stored.state == APPROVED
        assert sorted(stored.approvals) == sorted([ALICE.id, BORIS.id])
        assert [s.name for s in stored.steps] == ["review", "approve", "approve"]
        assert {result.state for result in results} == {IN_REVIEW, APPROVED}   # one saw the first, one the second
    # Every round, both decided on the same history and one insert lost: the retry path ran.
    assert first_gate.conflicts + second_gate.conflicts == ROUNDS


async def test_the_same_officer_approving_twice_at_once_records_one_approval(two_processes, shared):
    (first, first_gate), (second, second_gate) = two_processes
    for round_ in range(ROUNDS):
        request_id = await in_review(first, f"@twice{round_}:ru")
        arm(shared)
        results = await race(partial(first.approve, ALICE, request_id, call_id=f"a{round_}"),
                             partial(second.approve, ALICE, request_id, call_id=f"b{round_}"))

        stored = await second.find(request_id)
        codes = sorted(getattr(result, "code", "ok") for result in results)
        assert codes == ["already_approved", "ok"], results
        assert (stored.state, stored.approvals) == (IN_REVIEW, (ALICE.id,))
    assert first_gate.conflicts + second_gate.conflicts == ROUNDS


async def test_three_officers_at_once_still_make_two_approvals(two_processes, shared, stack, test_id):
    (first, _), (second, _) = two_processes
    carol = Actor("@carol_officer:ru", "security_officer")
    async with open_process(stack.mongo("ru"), test_id, shared) as (third, _):
        request_id = await in_review(first, "@trio:ru")
        arm(shared, parties=3)
        results = await race(partial(first.approve, ALICE, request_id, call_id="a"),
                             partial(second.approve, BORIS, request_id, call_id="b"),
                             partial(third.approve, carol, request_id, call_id="c"))

    stored = await first.find(request_id)
    assert stored.state == APPROVED and len(stored.approvals) == 2
    assert sorted(getattr(result, "code", "ok") for result in results) == ["forbidden_transition", "ok", "ok"]


async def test_the_store_keeps_one_document_per_request_and_per_step(two_processes, stack, test_id):
    (first, _), _ = two_processes
    request_id = await in_review(first, "@layout:ru")
    await first.approve(ALICE, request_id, call_id="a")

    with MongoClient(stack.mongo("ru")) as client:
        database = client[f"{test_id}_compliance"]
        request = database["lawful_requests"].find_one({"_id": request_id})
        steps = list(database["lawful_steps"].find({"request": request_id}).sort("n", 1))
    assert "state" not in request and request["basis"]["document_hash"] == "cd" * 32
    assert [(s["_id"], s["name"], s["actor"]) for s in steps] == [
        (step_id(request_id, 1), "review", ALICE.id), (step_id(request_id, 2), "approve", ALICE.id)]


async def test_region_reads_for_retention_and_the_report(two_processes, stack, test_id):
    (first, _), _ = two_processes
    held = await in_review(first, "@held:ru")
    closed = await in_review(first, "@done:ru")
    await first.reject(ALICE, closed, "no seal", call_id="r")
    with MongoClient(stack.mongo("ru")) as client:
        store = MongoLawfulStore(client[f"{test_id}_compliance"], trio.CapacityLimiter(2))
        everything = await store.all("ru")
        subjects = await store.open_subjects("ru")
        later = await store.open_subjects("ru", now=time.time() + 7200)
        elsewhere = await store.all("by")

    assert [r.id for r in everything] == [held, closed]
    assert subjects == {"@held:ru"}
    assert later == set()   # past the deadline: no longer open, even before anyone expires it
    assert elsewhere == []
    assert {r.state for r in everything} <= OPEN | {"rejected"}
