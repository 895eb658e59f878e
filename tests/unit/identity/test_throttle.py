"""The brute-force policy: per address, per account (without locking the owner out) and growing delays."""

from __future__ import annotations

import pytest

from svyaz.identity.errors import Throttled
from svyaz.identity.throttle import Failures, ThrottlePolicy, check, decide, delay_after

NOW = 1_000_000.0
POLICY = ThrottlePolicy()


def spread(count: int, *, over: float = 3000.0, end: float = NOW - 1) -> list[float]:
    """`count` failures evenly spread over `over` seconds, the newest at `end`."""
    return [end - over * i / max(count - 1, 1) for i in range(count)]


def test_no_failures_allows():
    assert decide(Failures(), NOW).allowed


def test_the_first_four_failures_cost_nothing_and_the_fifth_a_second():
    pair = spread(4, over=3)
    assert decide(Failures(account=pair, pair=pair, address=pair), NOW).allowed

    pair = [NOW - 0.5] + spread(4, over=3, end=NOW - 1)
    refused = decide(Failures(account=pair, pair=pair, address=pair), NOW)
    assert (refused.allowed, refused.rule) == (False, "delay")
    assert refused.retry_after_s == pytest.approx(0.5)
    assert decide(Failures(account=pair, pair=pair, address=pair), NOW + 0.6).allowed


def test_the_delay_doubles_per_failure_up_to_fifteen_minutes():
    assert [delay_after(n) for n in range(1, 9)] == [0, 0, 0, 0, 1, 2, 4, 8]
    assert delay_after(14) == 512
    assert delay_after(15) == 900
    assert delay_after(1000) == 900


def test_a_growing_delay_applies_per_address_not_to_the_owner_elsewhere():
    attacker = spread(10, over=100)  # the 10th failure means a 32 s wait
    attacked = decide(Failures(account=attacker, pair=attacker, address=attacker), NOW)
    owner = decide(Failures(account=attacker, pair=[], address=[]), NOW)

    assert (attacked.allowed, attacked.rule) == (False, "delay")
    assert attacked.retry_after_s == pytest.approx(31)
    assert owner.allowed


def test_the_101st_failure_within_an_hour_is_throttled():
    # 100 failures in the hour from one address, each after its delay ran out.
    failures = Failures(account=spread(100, over=3500), pair=spread(100, over=3500), address=[])
    with pytest.raises(Throttled) as caught:
        check(failures, NOW)
    assert caught.value.code == "throttled"
    assert caught.value.retry_after_s >= 1

    # The account rule alone refuses it, whatever the delays: with them cut to a second, still no.
    decision = decide(failures, NOW, ThrottlePolicy(max_delay_s=1))
    assert (decision.allowed, decision.rule) == (False, "account")


def test_99_failures_leave_the_account_open_when_delays_have_passed():
    policy = ThrottlePolicy(max_delay_s=1)  # isolate the account rule from the delay rule
    failures = spread(99, over=3500)
    assert decide(Failures(account=failures, pair=failures, address=failures), NOW, policy).allowed


def test_the_owner_from_a_clean_address_still_gets_through_an_attack():
    attack = spread(100, over=3500)
    owner = decide(Failures(account=attack, pair=[], address=[]), NOW)
    assert owner.allowed


def test_under_attack_every_address_that_failed_against_the_account_is_refused():
    attack = spread(100, over=3500)
    # A botnet address with a single failure, long past its (zero) delay, is still refused.
    decision = decide(Failures(account=attack, pair=[NOW - 1800], address=[NOW - 1800]), NOW)
    assert (decision.allowed, decision.rule) == (False, "account")
    # ... until its own failure leaves the window, or the account drops below the limit.
    assert decision.retry_after_s == pytest.approx(min(1800, attack[99] + 3600 - NOW))


def test_a_fresh_address_gets_one_try_then_is_refused_too():
    attack = spread(100, over=3500)
    assert decide(Failures(account=attack, pair=[], address=[]), NOW).allowed
    after_its_failure = Failures(account=[NOW] + attack, pair=[NOW], address=[NOW])
    assert not decide(after_its_failure, NOW + 1).allowed


def test_the_account_reopens_once_its_failures_age_out():
    attack = spread(100, over=3500, end=NOW - 1)
    failures = Failures(account=attack, pair=attack[:1], address=attack[:1])
    refused = decide(failures, NOW)

    assert not refused.allowed
    assert decide(failures, NOW + refused.retry_after_s + 0.001).allowed


def test_lock_account_refuses_even_clean_addresses():
    attack = spread(100, over=3500)
    decision = decide(Failures(account=attack), NOW, ThrottlePolicy(lock_account=True))
    assert (decision.allowed, decision.rule) == (False, "account")


def test_an_address_stuffing_many_accounts_is_capped():
    # 100 different accounts, one failure each: no per-pair delay, no account under attack.
    stuffing = spread(100, over=3500)
    decision = decide(Failures(account=[], pair=[], address=stuffing), NOW)

    assert (decision.allowed, decision.rule) == (False, "address")
    # The address reopens when its oldest failures leave the hour.
    assert decision.retry_after_s == pytest.approx(stuffing[-1] + 3600 - NOW)
    assert decide(Failures(address=stuffing[:99]), NOW).allowed


def test_failures_older_than_the_window_do_not_count():
    old = [NOW - 3600 - i for i in range(200)]
    assert decide(Failures(account=old, pair=old, address=old), NOW).allowed


def test_a_failure_stamped_slightly_ahead_by_another_clock_still_counts():
    ahead = [NOW + 0.2] + spread(4, over=3)
    assert not decide(Failures(account=ahead, pair=ahead, address=ahead), NOW).allowed


def test_the_longest_wait_wins_when_several_rules_refuse():
    pair = spread(15, over=50)  # 900 s delay
    stuffing = spread(100, over=3500)  # address cap, oldest at NOW - 3501: reopens in ~99 s
    decision = decide(Failures(account=pair, pair=pair, address=stuffing), NOW)
    assert (decision.rule, decision.retry_after_s) == ("delay", pytest.approx(899))


def test_the_throttled_error_rounds_the_wait_up_to_whole_seconds():
    assert Throttled(0.2, rule="delay").retry_after_s == 1
    assert Throttled(31.01, rule="delay").retry_after_s == 32
    assert "32 s" in str(Throttled(31.01, rule="delay"))


def test_impossible_policies_are_refused():
    with pytest.raises(ValueError):
        ThrottlePolicy(account_limit=0)
    with pytest.raises(ValueError):
        ThrottlePolicy(base_delay_s=10, max_delay_s=1)
