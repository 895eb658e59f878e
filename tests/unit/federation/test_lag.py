"""The window of recent lags behind /federation's percentiles (svyaz.federation.lag)."""

from __future__ import annotations

import pytest

from svyaz.federation.lag import LagWindow, percentile


def test_an_empty_window_has_no_percentiles():
    window = LagWindow()
    assert len(window) == 0
    assert window.percentiles() == {"p50": None, "p95": None, "p99": None}


def test_percentiles_are_nearest_rank_values_that_were_observed():
    window = LagWindow()
    for lag in range(100, 0, -1):  # 1..100 ms, out of order
        window.add(lag)
    assert window.percentiles() == {"p50": 50, "p95": 95, "p99": 99}
    assert window.percentiles((1, 100)) == {"p1": 1, "p100": 100}


def test_one_lag_is_every_percentile():
    window = LagWindow()
    window.add(42)
    assert window.percentiles() == {"p50": 42, "p95": 42, "p99": 42}


def test_a_few_lags_take_the_rank_above():
    assert [percentile([10, 20, 30, 40], q) for q in (25, 50, 51, 75, 99)] == [10, 20, 30, 30, 40]


def test_only_the_last_lags_count():
    window = LagWindow(size=1000)
    for _ in range(1000):
        window.add(60_000)  # an outage's backlog, a minute late
    for _ in range(1000):
        window.add(40)  # then the link is healthy again
    assert len(window) == 1000
    assert window.percentiles() == {"p50": 40, "p95": 40, "p99": 40}


def test_a_window_holds_at_most_its_size():
    window = LagWindow(size=3)
    for lag in (1, 2, 3, 4, 5):
        window.add(lag)
    assert len(window) == 3
    assert window.percentiles((1, 100)) == {"p1": 3, "p100": 5}


def test_a_negative_lag_from_a_clock_ahead_counts_as_zero():
    window = LagWindow()
    window.add(-15)
    assert window.percentiles() == {"p50": 0, "p95": 0, "p99": 0}


@pytest.mark.parametrize("q", [0, -1, 100.5])
def test_a_percentile_out_of_range_is_a_programming_error(q):
    with pytest.raises(ValueError, match="0 < q <= 100"):
        percentile([1], q)


def test_a_window_needs_room():
    with pytest.raises(ValueError, match="at least 1"):
        LagWindow(size=0)
