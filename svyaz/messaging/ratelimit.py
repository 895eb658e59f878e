"""Per-account token buckets: a steady rate with a burst on top, so a person typing fast is never
refused and a script flooding a chat is, with the delay after which it may try again."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from svyaz.messaging.errors import RateLimited

# Buckets kept at most: the idlest are forgotten first (a forgotten bucket is a full one, which is
# what an account idle that long would have anyway).
MAX_BUCKETS = 100_000


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    def __init__(self, *, rate_per_s: float, burst: int, clock: Callable[[], float]) -> None:
        self._rate = rate_per_s
        self._burst = float(burst)
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, account: str, what: str = "messages") -> None:
        """Spend one token of `account`'s bucket, or raise RateLimited with the wait."""
        now = self._clock()
        bucket = self._buckets.pop(account, None) or _Bucket(self._burst, now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.at) * self._rate)
        bucket.at = now
        self._buckets[account] = bucket
        if len(self._buckets) > MAX_BUCKETS:
            self._buckets.popitem(last=False)
        if bucket.tokens < 1:
            # Rounded up: a client that waits exactly this long finds the token there.
            wait = math.ceil((1 - bucket.tokens) / self._rate * 100) / 100
            raise RateLimited(f"too many {what}; wait {wait:.2f} s", retry_after_s=wait)
        bucket.tokens -= 1
