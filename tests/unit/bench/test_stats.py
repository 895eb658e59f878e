"""Nearest-rank percentiles: a p99 is a latency some message really had."""

from __future__ import annotations

import pytest

from svyaz.bench.stats import percentile, summarize


def test_percentiles_of_one_to_a_hundred_are_the_ranks_themselves():
    values = [float(n) for n in range(1, 101)]
    assert [percentile(values, q) for q in (0.01, 0.50, 0.95, 0.99, 1.0)] == [1.0, 50.0, 95.0, 99.0, 100.0]


def test_a_high_percentile_of_few_samples_is_the_worst_one_not_an_interpolation():
    values = [10.0, 20.0, 30.0, 1000.0]
    assert percentile(values, 0.95) == 1000.0
    assert percentile(values, 0.50) == 20.0
    assert percentile(values, 0.75) == 30.0


def test_one_sample_is_every_percentile():
    assert {percentile([7.0], q) for q in (0.001, 0.5, 0.99, 1.0)} == {7.0}


@pytest.mark.parametrize("q", [0.0, -0.5, 1.01])
def test_a_quantile_outside_zero_to_one_is_refused(q):
    with pytest.raises(ValueError):
        percentile([1.0, 2.0], q)


def test_no_samples_has_no_percentile_and_no_summary():
    with pytest.raises(ValueError):
        percentile([], 0.5)
    assert summarize([]) is None


def test_summary_is_in_milliseconds_and_ignores_the_order_of_samples():
    samples_s = [0.001 * n for n in range(100, 0, -1)]  # 100 ms down to 1 ms
    summary = summarize(samples_s)
    assert summary.count == 100
    assert (summary.p50, summary.p95, summary.p99, summary.max) == pytest.approx((50, 95, 99, 100))
    assert summary.mean == pytest.approx(50.5)
    assert summary.as_dict()["p99"] == 99.0
