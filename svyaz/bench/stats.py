"""Percentiles of latency samples, by the nearest-rank rule (the value at rank ceil(q·n)), so a p99
is a latency some sample really had and never an interpolation below it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The nearest-rank `q` quantile (0 < q <= 1) of ascending `sorted_values`; ValueError if empty."""
    if not sorted_values:
        raise ValueError("no samples")
    if not 0 < q <= 1:
        raise ValueError(f"quantile must be in (0, 1], got {q}")
    rank = math.ceil(q * len(sorted_values))
    return sorted_values[max(rank, 1) - 1]


@dataclass(frozen=True)
class Summary:
    """Latency figures in milliseconds."""

    count: int
    p50: float
    p95: float
    p99: float
    max: float
    mean: float

    def as_dict(self) -> dict[str, float | int]:
        return {key: (round(value, 2) if isinstance(value, float) else value) for key, value in asdict(self).items()}


def summarize(samples_s: Sequence[float]) -> Summary | None:
    """p50/p95/p99/max/mean in ms of samples given in seconds; None without samples."""
    if not samples_s:
        return None
    ordered = sorted(sample * 1000.0 for sample in samples_s)
    return Summary(count=len(ordered), p50=percentile(ordered, 0.50), p95=percentile(ordered, 0.95),
                   p99=percentile(ordered, 0.99), max=ordered[-1], mean=sum(ordered) / len(ordered))
