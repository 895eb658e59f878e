"""What happened to each message of one run, and the run's figures from it.

Times are one process's monotonic clock (`time.perf_counter`), so a latency is a difference of two
readings of the same clock. A message is `measured` when its arrival was scheduled after the
warm-up; rates count what happened inside the measured window by the time it happened.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from svyaz.bench.stats import Summary, summarize

# Error codes of the bench itself, besides the node's own (`rate_limited`, `not_published`, ...).
ACK_TIMEOUT = "ack_timeout"
CONNECTION_CLOSED = "connection_closed"
DROPPED_BY_CLIENT = "dropped_by_client"
MISSING_DELIVERY = "missing_delivery"


@dataclass
class _Message:
    sender: int
    recipient: int
    measured: bool
    sent_at: float
    acked_at: float | None = None
    error: str | None = None
    delivered_at: float | None = None


@dataclass(frozen=True)
class Figures:
    scheduled: int               # measured arrivals, dropped ones included
    sent: int                    # measured messages whose send frame left
    send_rate: float             # sends that left inside the window, per second
    acked_rate: float            # successful answers inside the window, per second
    delivered: int               # measured messages the recipient got
    delivered_rate: float        # recipient events inside the window, per second
    errors: dict[str, int]       # by code, bench codes included; measured messages only
    failed: int                  # sum of errors: dropped, refused, timed out, never delivered
    delivery: Summary | None     # send -> recipient's message.created
    ack: Summary | None          # send -> result
    dispatch_lag: Summary | None  # scheduled arrival -> send: how far the bench fell behind its schedule
    duplicates: int              # repeated events for one message (allowed: at-least-once)
    misdelivered: int            # events that reached someone other than the recipient
    strays: int                  # events for messages of no arrival of this run (e.g. late ones of the last)

    def as_dict(self) -> dict[str, Any]:
        plain = {name: getattr(self, name) for name in self.__dataclass_fields__}
        for name in ("delivery", "ack", "dispatch_lag"):
            summary = plain[name]
            plain[name] = None if summary is None else summary.as_dict()
        for name in ("send_rate", "acked_rate", "delivered_rate"):
            plain[name] = round(plain[name], 1)
        return plain


class Tally:
    def __init__(self) -> None:
        self._messages: dict[str, _Message] = {}
        self._dropped = 0
        self._lags: list[float] = []
        self._duplicates = 0
        self._misdelivered = 0
        self._strays = 0

    def dropped(self, *, measured: bool) -> None:
        """An arrival not sent: its connection already had the most sends in flight."""
        if measured:
            self._dropped += 1

    def sent(self, client_id: str, *, sender: int, recipient: int, at: float, measured: bool,
             lag: float = 0.0) -> None:
        """The send frame is about to leave at `at`, `lag` seconds after its scheduled arrival."""
        if client_id in self._messages:
            raise ValueError(f"client id {client_id} sent twice")
        self._messages[client_id] = _Message(sender, recipient, measured, at)
        if measured:
            self._lags.append(max(lag, 0.0))

    def acked(self, client_id: str, at: float) -> None:
        self._messages[client_id].acked_at = at

    def failed(self, client_id: str, code: str) -> None:
        self._messages[client_id].error = code

    def delivered(self, client_id: str, *, recipient: int, at: float) -> None:
        """A `message.created` event for `client_id` reached connection `recipient` at `at`."""
        message = self._messages.get(client_id)
        if message is None:
            self._strays += 1
        elif message.recipient != recipient:
            self._misdelivered += 1
        elif message.delivered_at is not None:
            self._duplicates += 1
        else:
            message.delivered_at = at

    def awaiting(self) -> int:
        """Messages not refused that have not reached their recipient yet."""
        return sum(1 for m in self._messages.values() if m.delivered_at is None and m.error is None)

    def figures(self, window_start: float, window_end: float) -> Figures:
        span = max(window_end - window_start, 1e-9)
        inside = lambda at: at is not None and window_start <= at < window_end  # noqa: E731
        measured = [m for m in self._messages.values() if m.measured]
        errors: Counter[str] = Counter(m.error for m in measured if m.error is not None)
        missing = sum(1 for m in measured if m.error is None and m.delivered_at is None)
        if missing:
            errors[MISSING_DELIVERY] = missing
        if self._dropped:
            errors[DROPPED_BY_CLIENT] = self._dropped
        return Figures(
            scheduled=len(measured) + self._dropped,
            sent=len(measured),
            send_rate=sum(1 for m in self._messages.values() if inside(m.sent_at)) / span,
            acked_rate=sum(1 for m in self._messages.values() if m.error is None and inside(m.acked_at)) / span,
            delivered=sum(1 for m in measured if m.delivered_at is not None),
            delivered_rate=sum(1 for m in self._messages.values() if inside(m.delivered_at)) / span,
            errors=dict(sorted(errors.items())),
            failed=sum(errors.values()),
            delivery=summarize([m.delivered_at - m.sent_at for m in measured if m.delivered_at is not None]),
            ack=summarize([m.acked_at - m.sent_at for m in measured if m.acked_at is not None]),
            dispatch_lag=summarize(self._lags),
            duplicates=self._duplicates,
            misdelivered=self._misdelivered,
            strays=self._strays,
        )
