"""The brute-force policy: given recent failures, allow a sign-in attempt or refuse it for a while.

Three counters, over a sliding window (an hour by default):

- per address, across all accounts (credential stuffing): at `address_limit` failures the address
  is refused until its oldest failures age out;
- per account (ASVS 4.0.3 2.2.1, at most 100 failures an hour): at `account_limit` failures the
  account is "under attack", and every address that has already failed against it is refused; an
  address with no failure against it may still try, and its first failure puts it in the same state;
- per (account, address): after `free_failures` failures each further attempt waits
  `base_delay_s`, doubling per failure, at most `max_delay_s`. Success clears this counter.

The trade-off (docs/identity.md): a hard per-account lock would let anyone lock any person out for
good by failing 100 times an hour. Instead, the owner from a clean address still gets in, and an
attacker gets one guess per fresh address per hour once the account is under attack, besides the
per-address cap. Against an attacker with a large botnet, a strong password and 2FA carry the
defence; an operator who prefers a hard lock can set `lock_account=True`.

Pure: the adapter supplies the timestamps (seconds since the epoch), newest or oldest first.
Failures are recorded for unknown accounts too, so a refusal says nothing about whether one exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from svyaz.identity.errors import Throttled


@dataclass(frozen=True)
class ThrottlePolicy:
    window_s: float = 3600.0
    account_limit: int = 100
    address_limit: int = 100
    free_failures: int = 5
    base_delay_s: float = 1.0
    max_delay_s: float = 900.0
    lock_account: bool = False  # refuse every address once the account is at its limit

    def __post_init__(self) -> None:
        if min(self.account_limit, self.address_limit) < 1 or self.free_failures < 0:
            raise ValueError(f"throttle limits must be positive: {self}")
        if self.window_s <= 0 or self.base_delay_s <= 0 or self.max_delay_s < self.base_delay_s:
            raise ValueError(f"throttle times must be positive and max_delay_s >= base_delay_s: {self}")


@dataclass(frozen=True)
class Failures:
    """Failure timestamps within (at least) the policy's window."""

    account: Sequence[float] = ()  # against this account, from any address
    pair: Sequence[float] = ()  # against this account, from this address
    address: Sequence[float] = ()  # from this address, against any account


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after_s: float = 0.0
    rule: str = ""  # "address", "account" or "delay" when refused


ALLOW = Decision(True)


def decide(failures: Failures, now: float, policy: ThrottlePolicy = ThrottlePolicy()) -> Decision:
    """Allow, or refuse with the longest wait any rule imposes."""
    refusals = [
        refusal
        for refusal in (
            _address_cap(failures, now, policy),
            _account_under_attack(failures, now, policy),
            _growing_delay(failures, now, policy),
        )
        if refusal is not None
    ]
    return max(refusals, key=lambda decision: decision.retry_after_s) if refusals else ALLOW


def check(failures: Failures, now: float, policy: ThrottlePolicy = ThrottlePolicy()) -> None:
    """Raise Throttled (with retry_after_s) unless an attempt is allowed now."""
    decision = decide(failures, now, policy)
    if not decision.allowed:
        raise Throttled(decision.retry_after_s, rule=decision.rule)


def delay_after(failure_count: int, policy: ThrottlePolicy = ThrottlePolicy()) -> float:
    """How long to wait after the `failure_count`-th failure of an (account, address) pair."""
    if failure_count < max(policy.free_failures, 1):
        return 0.0
    doublings = failure_count - max(policy.free_failures, 1)
    if doublings >= 64:
        return policy.max_delay_s
    return min(policy.base_delay_s * 2**doublings, policy.max_delay_s)


def _recent(timestamps: Sequence[float], now: float, policy: ThrottlePolicy) -> list[float]:
    """The failures inside the window, newest first. One stamped a little after `now` (another
    process's clock) still counts."""
    return sorted((t for t in timestamps if t > now - policy.window_s), reverse=True)


def _until_below(timestamps: Sequence[float], limit: int, now: float, policy: ThrottlePolicy) -> float | None:
    """Seconds until fewer than `limit` failures remain in the window; None if already fewer."""
    recent = _recent(timestamps, now, policy)
    if len(recent) < limit:
        return None
    # The count drops below the limit when the limit-th newest failure leaves the window.
    return recent[limit - 1] + policy.window_s - now


def _address_cap(failures: Failures, now: float, policy: ThrottlePolicy) -> Decision | None:
    wait = _until_below(failures.address, policy.address_limit, now, policy)
    return None if wait is None else Decision(False, wait, "address")


def _account_under_attack(failures: Failures, now: float, policy: ThrottlePolicy) -> Decision | None:
    account_wait = _until_below(failures.account, policy.account_limit, now, policy)
    if account_wait is None:
        return None
    if policy.lock_account:
        return Decision(False, account_wait, "account")
    pair = _recent(failures.pair, now, policy)
    if not pair:
        return None  # a clean address may try: the owner is not locked out
    # Allowed again once the account is below its limit or this address's failures have aged out.
    pair_wait = pair[0] + policy.window_s - now
    return Decision(False, min(account_wait, pair_wait), "account")


def _growing_delay(failures: Failures, now: float, policy: ThrottlePolicy) -> Decision | None:
    pair = _recent(failures.pair, now, policy)
    wait = pair[0] + delay_after(len(pair), policy) - now if pair else 0.0
    return Decision(False, wait, "delay") if wait > 0 else None
