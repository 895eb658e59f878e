"""The node's timers (`nodetrace`) cut down to one measured window and put per message."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any


def window_costs(buckets: Mapping[str, Mapping[str, Sequence[float]]], start: float, end: float,
                 sends_per_s: float) -> dict[str, Any]:
    """Per timer, over the whole seconds inside [start, end): calls per sent message, mean ms per
    call, and ms per message (calls × mean: what one message costs in that timer, summed over
    concurrent calls). Timers busiest per message first."""
    first, last = math.ceil(start), math.floor(end)
    seconds = last - first
    if seconds <= 0 or sends_per_s <= 0:
        return {"seconds": 0, "timers": {}}
    counts: dict[str, float] = defaultdict(float)
    spent: dict[str, float] = defaultdict(float)
    for second in range(first, last):
        for name, (count, total) in buckets.get(str(second), {}).items():
            counts[name] += count
            spent[name] += total
    messages = sends_per_s * seconds
    timers = {
        name: {"per_message": round(counts[name] / messages, 2),
               "mean_ms": round(1000 * spent[name] / counts[name], 2),
               "ms_per_message": round(1000 * spent[name] / messages, 2)}
        for name in counts if counts[name]
    }
    ordered = dict(sorted(timers.items(), key=lambda item: -item[1]["ms_per_message"]))
    store = [t for name, t in timers.items() if name.startswith("store ")]
    return {"seconds": seconds,
            "store_commands_per_message": round(sum(t["per_message"] for t in store), 1),
            "store_ms_per_message": round(sum(t["ms_per_message"] for t in store), 1),
            "timers": ordered}
