"""The latency objective (issue text: p95 ≤ 100 ms and p99 ≤ 200 ms for send→receive) and the
highest rate of a sweep that meets it.

A rate passes only if the node really carried it: percentiles of the messages that arrived say
nothing about the ones that did not, so a rate also fails when the bench could not send what it
asked for or when more than a sliver of messages were refused, timed out or never delivered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Objective:
    p95_ms: float = 100.0
    p99_ms: float = 200.0
    min_achieved: float = 0.95   # sends that left / arrivals scheduled, over the measured window
    max_failed: float = 0.001    # failed / scheduled (dropped, refused, timed out, never delivered)


@dataclass(frozen=True)
class RateResult:
    rate: float               # asked, messages per second
    send_rate: float          # achieved: sends that left inside the window, per second
    scheduled: int            # arrivals of the window (a Poisson schedule has about rate × seconds)
    failed: int
    p95_ms: float | None      # delivery latency; None when nothing arrived
    p99_ms: float | None
    seconds: float = 0.0      # the window; with it, `scheduled` is the rate the schedule really asked

    @property
    def scheduled_rate(self) -> float:
        return self.scheduled / self.seconds if self.seconds > 0 else self.rate


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reasons: tuple[str, ...] = ()


def judge(result: RateResult, objective: Objective = Objective()) -> Verdict:
    reasons = []
    if result.p95_ms is None or result.p99_ms is None:
        reasons.append("no message was delivered")
    else:
        if result.p95_ms > objective.p95_ms:
            reasons.append(f"p95 {result.p95_ms:.1f} ms > {objective.p95_ms:g} ms")
        if result.p99_ms > objective.p99_ms:
            reasons.append(f"p99 {result.p99_ms:.1f} ms > {objective.p99_ms:g} ms")
    # Against the arrivals really scheduled: at 1/s for 30 s a Poisson schedule may well ask for 24.
    if result.send_rate < objective.min_achieved * result.scheduled_rate:
        reasons.append(f"sent {result.send_rate:.1f}/s of {result.scheduled_rate:.1f}/s scheduled")
    if result.scheduled and result.failed / result.scheduled > objective.max_failed:
        reasons.append(f"{result.failed} of {result.scheduled} messages failed "
                       f"({100 * result.failed / result.scheduled:.2f} % > {100 * objective.max_failed:g} %)")
    return Verdict(not reasons, tuple(reasons))


@dataclass(frozen=True)
class SweepVerdict:
    highest_passing: float | None     # the highest rate that passed, None if none did
    verdicts: dict[float, Verdict] = field(default_factory=dict)
    # A lower rate failed although a higher one passed: noise, or the machine was busy; rerun.
    inconsistent: bool = False


def sweep_verdict(results: Sequence[RateResult], objective: Objective = Objective()) -> SweepVerdict:
    verdicts = {result.rate: judge(result, objective) for result in results}
    passing = [rate for rate, verdict in verdicts.items() if verdict.passed]
    highest = max(passing, default=None)
    inconsistent = highest is not None and any(
        not verdict.passed and rate < highest for rate, verdict in verdicts.items())
    return SweepVerdict(highest, verdicts, inconsistent)
