"""Send limits: a burst passes, a flood is refused with the wait, and time refills the bucket."""

from __future__ import annotations

import pytest

from svyaz.messaging.errors import RateLimited
from svyaz.messaging.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_passes_then_a_flood_is_told_how_long_to_wait():
    clock = Clock()
    limiter = RateLimiter(rate_per_s=2.0, burst=3, clock=clock)
    for _ in range(3):
        limiter.take("@alice:ru")
    with pytest.raises(RateLimited) as refused:
        limiter.take("@alice:ru")
    assert refused.value.retry_after_s == pytest.approx(0.5)
    limiter.take("@bob:ru")  # each account has its own bucket


def test_time_refills_the_bucket_up_to_the_burst_only():
    clock = Clock()
    limiter = RateLimiter(rate_per_s=2.0, burst=3, clock=clock)
    for _ in range(3):
        limiter.take("@alice:ru")
    clock.now += 0.5
    limiter.take("@alice:ru")
    clock.now += 3600  # an hour idle buys no more than the burst
    for _ in range(3):
        limiter.take("@alice:ru")
    with pytest.raises(RateLimited):
        limiter.take("@alice:ru")
