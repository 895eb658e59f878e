"""In-memory stand-ins for the workflow's ports (unit tests only): the request store and the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from svyaz.compliance.lawful.model import OPEN, LawfulRequest, Step
from svyaz.compliance.lawful.workflow import effective, replay


class MemoryStore:
    """Keeps what MongoLawfulStore keeps (the submission and numbered steps) and derives the state
    the same way; `before_append` runs just before a step is stored, to stage a concurrent one."""

    def __init__(self) -> None:
        self.submitted: dict[str, LawfulRequest] = {}
        self.steps: dict[str, list[Step]] = {}
        self.before_append: Callable[[LawfulRequest, Step], None] | None = None
        self.refuse_appends = False

    async def create(self, request: LawfulRequest) -> None:
        assert request.id not in self.submitted
        self.submitted[request.id] = replace(request, steps=(), approvals=())
        self.steps[request.id] = []

    async def get(self, request_id: str) -> LawfulRequest | None:
        if request_id not in self.submitted:
            return None
        return replay(self.submitted[request_id], self.steps[request_id])

    async def append_step(self, request: LawfulRequest, step: Step) -> bool:
        if self.before_append is not None:
            hook, self.before_append = self.before_append, None
            hook(request, step)
        stored = self.steps[request.id]
        if self.refuse_appends or len(stored) != len(request.steps):
            return False
        stored.append(step)
        return True

    async def all(self, region: str) -> list[LawfulRequest]:
        return [await self.get(request_id) for request_id, request in self.submitted.items()
                if request.region == region]

    async def open_subjects(self, region: str, *, now: float | None = None) -> set[str]:
        return {r.subject for r in await self.all(region) if effective(r, now or 0).state in OPEN}


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
