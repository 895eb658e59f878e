"""The recent lags of one origin and their percentiles (`/federation`, `svyaz federation status`). Pure.

A node keeps the last `DEFAULT_WINDOW` lags per origin, so the percentiles describe the link as it
is now rather than since start: an outage an hour ago no longer weighs on p99 once a thousand events
have crossed since. The Prometheus histogram `svyaz_federation_lag_seconds` is the long view.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

DEFAULT_WINDOW = 1000
PERCENTILES = (50, 95, 99)


def percentile(ordered: Sequence[int], q: float) -> int | None:
    """The nearest-rank `q`-th percentile (0 < q <= 100) of `ordered` (ascending): a value that was
    observed, never an interpolation. None for no values."""
    if not 0 < q <= 100:
        raise ValueError(f"percentile {q!r}: expected 0 < q <= 100")
    if not ordered:
        return None
    return ordered[max(math.ceil(q / 100 * len(ordered)), 1) - 1]


class LagWindow:
    """The last `size` lags in milliseconds (older ones fall out)."""

    def __init__(self, size: int = DEFAULT_WINDOW) -> None:
        if size < 1:
            raise ValueError(f"window size {size!r}: expected at least 1")
        self.size = size
        self._lags: deque[int] = deque(maxlen=size)

    def add(self, lag_ms: int) -> None:
        self._lags.append(max(int(lag_ms), 0))

    def __len__(self) -> int:
        return len(self._lags)

    def percentiles(self, qs: Sequence[int] = PERCENTILES) -> dict[str, int | None]:
        """`{"p50": ..., "p95": ..., "p99": ...}` over the window (None while it is empty)."""
        ordered = sorted(self._lags)
        return {f"p{q}": percentile(ordered, q) for q in qs}
