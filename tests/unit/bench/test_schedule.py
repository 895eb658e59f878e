"""The open-loop schedule: the asked rate, over the asked time, from every sender; and the bound on
unanswered sends per connection."""

from __future__ import annotations

import random
import statistics

import pytest

from svyaz.bench.schedule import InFlightLimit, arrivals


def test_even_arrivals_are_exactly_one_over_the_rate_apart_and_end_before_the_duration():
    schedule = arrivals(50, 2.0, 10, kind="even", rng=random.Random(1))
    assert len(schedule) == 100
    assert [a.at for a in schedule[:3]] == pytest.approx([0.0, 0.02, 0.04])
    assert schedule[-1].at < 2.0


def test_even_arrivals_go_round_the_senders_so_each_sends_at_rate_over_senders():
    schedule = arrivals(40, 5.0, 8, kind="even", rng=random.Random(2))
    per_sender = {}
    for arrival in schedule:
        per_sender.setdefault(arrival.sender, []).append(arrival.at)
    assert sorted(per_sender) == list(range(8))
    for times in per_sender.values():
        assert len(times) == 25
        gaps = {round(b - a, 9) for a, b in zip(times, times[1:])}
        assert gaps == {0.2}  # 8 senders at 40/s in all: each every 0.2 s


def test_poisson_arrivals_keep_the_rate_on_average_with_exponential_gaps():
    rate, duration = 200.0, 100.0
    schedule = arrivals(rate, duration, 1000, kind="poisson", rng=random.Random(3))
    assert len(schedule) == pytest.approx(rate * duration, rel=0.02)
    gaps = [b.at - a.at for a, b in zip(schedule, schedule[1:])]
    assert statistics.mean(gaps) == pytest.approx(1 / rate, rel=0.03)
    # Exponential: the standard deviation equals the mean (an even schedule would have none).
    assert statistics.stdev(gaps) == pytest.approx(1 / rate, rel=0.05)
    assert all(0 <= a.at < duration for a in schedule)
    assert all(a.at <= b.at for a, b in zip(schedule, schedule[1:]))


def test_poisson_arrivals_spread_over_all_senders():
    schedule = arrivals(100.0, 100.0, 50, kind="poisson", rng=random.Random(4))
    counts = [0] * 50
    for arrival in schedule:
        counts[arrival.sender] += 1
    assert min(counts) > 0.6 * (len(schedule) / 50)
    assert max(counts) < 1.4 * (len(schedule) / 50)


def test_the_same_seed_gives_the_same_schedule():
    first = arrivals(30, 10, 6, rng=random.Random(5))
    assert first == arrivals(30, 10, 6, rng=random.Random(5))
    assert first != arrivals(30, 10, 6, rng=random.Random(6))


@pytest.mark.parametrize("rate, duration, senders, kind", [
    (0, 1, 1, "even"), (1, 0, 1, "even"), (1, 1, 0, "even"), (1, 1, 1, "bursty"),
])
def test_a_schedule_needs_a_positive_rate_duration_and_senders_and_a_known_kind(rate, duration, senders, kind):
    with pytest.raises(ValueError):
        arrivals(rate, duration, senders, kind=kind)


def test_in_flight_limit_refuses_beyond_the_bound_per_sender_and_frees_on_release():
    limit = InFlightLimit(2)
    assert limit.try_take(0) and limit.try_take(0)
    assert not limit.try_take(0)
    assert limit.try_take(1)  # another connection has its own bound
    assert limit.in_flight() == 3 and limit.in_flight(0) == 2
    limit.release(0)
    assert limit.try_take(0)
    for sender in (0, 0, 1):
        limit.release(sender)
    assert limit.in_flight() == 0


def test_in_flight_limit_refuses_a_release_without_a_take_and_a_bound_below_one():
    with pytest.raises(ValueError):
        InFlightLimit(2).release(3)
    with pytest.raises(ValueError):
        InFlightLimit(0)
