"""The objective (p95 <= 100 ms, p99 <= 200 ms, with the load really carried) and the sweep's answer."""

from __future__ import annotations

from svyaz.bench.verdict import Objective, RateResult, judge, sweep_verdict


def result(rate, *, p95=50.0, p99=120.0, send_rate=None, scheduled=1000, failed=0) -> RateResult:
    return RateResult(rate=rate, send_rate=rate if send_rate is None else send_rate, scheduled=scheduled,
                      failed=failed, p95_ms=p95, p99_ms=p99)


def test_a_rate_within_both_percentiles_passes():
    assert judge(result(100)).passed
    assert judge(result(100, p95=100.0, p99=200.0)).passed  # the bounds themselves are allowed


def test_a_rate_over_either_percentile_fails_and_says_which():
    over_p95 = judge(result(100, p95=100.5))
    over_p99 = judge(result(100, p99=250.0))
    assert not over_p95.passed and over_p95.reasons == ("p95 100.5 ms > 100 ms",)
    assert not over_p99.passed and over_p99.reasons == ("p99 250.0 ms > 200 ms",)


def test_fast_percentiles_do_not_pass_a_rate_the_bench_could_not_send():
    verdict = judge(result(1000, send_rate=700))
    assert not verdict.passed
    assert verdict.reasons == ("sent 700.0/s of 1000.0/s scheduled",)


def test_the_achieved_rate_is_judged_against_the_arrivals_the_schedule_really_had():
    # A Poisson schedule at 1/s for 30 s had 24 arrivals: sending all 24 is keeping up.
    kept_up = RateResult(rate=1, send_rate=0.8, scheduled=24, failed=0, p95_ms=40, p99_ms=50, seconds=30)
    fell_behind = RateResult(rate=1, send_rate=0.6, scheduled=24, failed=0, p95_ms=40, p99_ms=50, seconds=30)
    assert judge(kept_up).passed
    assert judge(fell_behind).reasons == ("sent 0.6/s of 0.8/s scheduled",)


def test_fast_percentiles_do_not_pass_a_rate_where_messages_were_lost_or_refused():
    assert judge(result(100, scheduled=10_000, failed=10)).passed  # 0.1 %: allowed
    verdict = judge(result(100, scheduled=10_000, failed=11))
    assert not verdict.passed and "11 of 10000 messages failed" in verdict.reasons[0]


def test_nothing_delivered_fails():
    verdict = judge(RateResult(rate=10, send_rate=10, scheduled=100, failed=100, p95_ms=None, p99_ms=None))
    assert not verdict.passed and verdict.reasons[0] == "no message was delivered"


def test_the_objective_can_be_changed():
    assert judge(result(100, p95=150, p99=300), Objective(p95_ms=200, p99_ms=400)).passed


def test_the_sweep_names_the_highest_passing_rate():
    verdict = sweep_verdict([result(50), result(100), result(200, p99=260.0), result(400, p95=180.0)])
    assert verdict.highest_passing == 100
    assert [rate for rate, v in verdict.verdicts.items() if v.passed] == [50, 100]
    assert not verdict.inconsistent


def test_the_sweep_has_no_answer_when_nothing_passes():
    verdict = sweep_verdict([result(5, p95=140.0), result(10, p95=300.0)])
    assert verdict.highest_passing is None and not verdict.inconsistent


def test_a_lower_rate_failing_below_a_passing_one_is_flagged():
    verdict = sweep_verdict([result(50, p99=900.0), result(100)])
    assert verdict.highest_passing == 100
    assert verdict.inconsistent
