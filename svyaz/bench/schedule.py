"""The open-loop load: when each message is sent and by whom, fixed before the run starts.

Open loop means arrivals do not wait for answers, so a slow node meets the load it would meet from
independent people instead of a load that politely slows down with it (coordinated omission).
Each connection still holds at most `max_in_flight` unanswered sends: an arrival beyond that is
not sent and is counted as dropped by the client (calls on one connection are answered in order,
so a deeper queue would only measure the queue).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

KINDS = ("poisson", "even")


@dataclass(frozen=True)
class Arrival:
    at: float    # seconds from the start of the run
    sender: int  # index of the sending connection


def arrivals(rate_per_s: float, duration_s: float, senders: int, *, kind: str = "poisson",
             rng: random.Random | None = None) -> list[Arrival]:
    """Arrivals at an aggregate `rate_per_s` over [0, duration_s), spread over `senders`.

    poisson: exponential gaps (independent people), each arrival from a sender chosen at random.
    even: gaps of exactly 1/rate, senders in a shuffled round-robin, so each connection sends at
    rate/senders, evenly spaced too.
    """
    if rate_per_s <= 0 or duration_s <= 0 or senders < 1:
        raise ValueError("rate, duration and senders must be positive")
    if kind not in KINDS:
        raise ValueError(f"arrival kind must be one of {', '.join(KINDS)}, got {kind!r}")
    rng = rng or random.Random()
    return list(_poisson(rate_per_s, duration_s, senders, rng) if kind == "poisson"
                else _even(rate_per_s, duration_s, senders, rng))


def _poisson(rate: float, duration: float, senders: int, rng: random.Random) -> Iterator[Arrival]:
    at = rng.expovariate(rate)
    while at < duration:
        yield Arrival(at, rng.randrange(senders))
        at += rng.expovariate(rate)


def _even(rate: float, duration: float, senders: int, rng: random.Random) -> Iterator[Arrival]:
    order = list(range(senders))
    rng.shuffle(order)
    n = 0
    while (at := n / rate) < duration:
        yield Arrival(at, order[n % senders])
        n += 1


class InFlightLimit:
    """At most `limit` unanswered sends per connection."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the in-flight limit must be at least 1")
        self.limit = limit
        self._counts: dict[int, int] = {}

    def try_take(self, sender: int) -> bool:
        count = self._counts.get(sender, 0)
        if count >= self.limit:
            return False
        self._counts[sender] = count + 1
        return True

    def release(self, sender: int) -> None:
        count = self._counts.get(sender, 0)
        if count <= 0:
            raise ValueError(f"sender {sender} has nothing in flight")
        if count == 1:
            del self._counts[sender]
        else:
            self._counts[sender] = count - 1

    def in_flight(self, sender: int | None = None) -> int:
        return sum(self._counts.values()) if sender is None else self._counts.get(sender, 0)
