"""The transparency report (issue 6; docs/compliance.md, "Transparency report"): a region's
lawful-access requests counted by state and by data category, and how long decisions took.

Pure: no I/O. Counts only: no subject, authority, officer, legal basis or request id leaves this
module, so the report can be published as it is.

Time to decision is from submission to the step that decided the request: the second distinct
approval (the request became `approved`) or the rejection. Requests still undecided (or expired
undecided) count in `undecided` and not in the times. Percentiles are nearest-rank (p50 of
[1, 2, 3, 4] is 2): every figure reported is a time some request really took.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from svyaz.compliance.lawful.model import APPROVALS_NEEDED, CATEGORIES, STATES, LawfulRequest
from svyaz.compliance.lawful.workflow import effective


@dataclass(frozen=True)
class DecisionTimes:
    count: int = 0
    p50_s: float | None = None
    p95_s: float | None = None
    max_s: float | None = None

    def as_dict(self) -> dict[str, float | int | None]:
        return {"count": self.count, "p50_s": self.p50_s, "p95_s": self.p95_s, "max_s": self.max_s}


@dataclass(frozen=True)
class TransparencyReport:
    region: str
    since: float | None
    until: float | None
    total: int
    by_state: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    approved: DecisionTimes = DecisionTimes()
    rejected: DecisionTimes = DecisionTimes()
    decided: DecisionTimes = DecisionTimes()
    undecided: int = 0

    def as_dict(self) -> dict[str, object]:
        return {"region": self.region, "since": self.since, "until": self.until, "total": self.total,
                "by_state": dict(self.by_state), "by_category": dict(self.by_category),
                "time_to_decision": {"all": self.decided.as_dict(), "approved": self.approved.as_dict(),
                                     "rejected": self.rejected.as_dict()},
                "undecided": self.undecided}


def decision(request: LawfulRequest) -> tuple[str, float] | None:
    """("approved" | "rejected", seconds from submission to the deciding step), or None if undecided."""
    approvers: list[str] = []
    for step in request.steps:
        if step.name == "reject":
            return "rejected", max(0.0, step.at - request.submitted_at)
        if step.name == "approve" and step.actor not in approvers:
            approvers.append(step.actor)
            if len(approvers) >= APPROVALS_NEEDED:
                return "approved", max(0.0, step.at - request.submitted_at)
    return None


def nearest_rank(sorted_values: list[float], percent: float) -> float | None:
    """The nearest-rank percentile of already sorted values; None for none."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(percent / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def _times(values: list[float]) -> DecisionTimes:
    ordered = sorted(values)
    return DecisionTimes(count=len(ordered), p50_s=nearest_rank(ordered, 50), p95_s=nearest_rank(ordered, 95),
                         max_s=ordered[-1] if ordered else None)


def transparency_report(requests: Iterable[LawfulRequest], region: str, *, since: float | None = None,
                        until: float | None = None, now: float | None = None) -> TransparencyReport:
    """The report of `region`'s requests submitted in [since, until) (all of them by default).
    Requests of other regions are left out: each node reports its own jurisdiction. With `now`,
    each request is counted as it stands then (one past its deadline that nobody has expired yet
    counts as expired, as the workflow would read it)."""
    by_state: Counter[str] = Counter(dict.fromkeys(STATES, 0))
    by_category: Counter[str] = Counter(dict.fromkeys(CATEGORIES, 0))
    times: dict[str, list[float]] = {"approved": [], "rejected": []}
    total = undecided = 0
    for request in requests:
        if request.region != region:
            continue
        if (since is not None and request.submitted_at < since) or (until is not None and request.submitted_at >= until):
            continue
        if now is not None:
            request = effective(request, now)
        total += 1
        by_state[request.state] += 1
        by_category.update(set(request.categories))
        outcome = decision(request)
        if outcome is None:
            undecided += 1
        else:
            times[outcome[0]].append(outcome[1])
    return TransparencyReport(region=region, since=since, until=until, total=total, by_state=dict(by_state),
                              by_category=dict(by_category), approved=_times(times["approved"]),
                              rejected=_times(times["rejected"]),
                              decided=_times(times["approved"] + times["rejected"]), undecided=undecided)
