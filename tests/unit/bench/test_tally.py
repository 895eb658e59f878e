"""A run's figures from what happened to each message: latencies, rates in the window, errors."""

from __future__ import annotations

import pytest

from svyaz.bench.tally import Tally


def test_latencies_are_from_send_to_the_recipients_event_and_to_the_result():
    tally = Tally()
    tally.sent("a", sender=0, recipient=1, at=10.0, measured=True, lag=0.002)
    tally.acked("a", 10.030)
    tally.delivered("a", recipient=1, at=10.045)
    figures = tally.figures(9.0, 11.0)
    assert figures.delivery.p50 == pytest.approx(45.0)
    assert figures.ack.p50 == pytest.approx(30.0)
    assert figures.dispatch_lag.max == pytest.approx(2.0)
    assert figures.errors == {} and figures.failed == 0 and figures.delivered == 1


def test_warm_up_messages_are_sent_but_not_measured():
    tally = Tally()
    tally.sent("warm", sender=0, recipient=1, at=1.0, measured=False)
    tally.delivered("warm", recipient=1, at=1.5)
    tally.sent("hot", sender=0, recipient=1, at=5.0, measured=True)
    tally.delivered("hot", recipient=1, at=5.01)
    figures = tally.figures(4.0, 6.0)
    assert figures.sent == 1 and figures.delivery.count == 1 and figures.delivery.max == pytest.approx(10.0)


def test_rates_count_what_happened_inside_the_window():
    tally = Tally()
    for n in range(30):  # one every 0.1 s from t=0 to t=2.9, each answered and delivered 0.05 s later
        tally.sent(f"m{n}", sender=0, recipient=1, at=n / 10, measured=True)
        tally.acked(f"m{n}", n / 10 + 0.05)
        tally.delivered(f"m{n}", recipient=1, at=n / 10 + 0.05)
    figures = tally.figures(1.0, 2.0)
    assert figures.send_rate == pytest.approx(10.0)
    assert figures.acked_rate == pytest.approx(10.0)
    assert figures.delivered_rate == pytest.approx(10.0)


def test_errors_by_code_with_drops_and_missing_deliveries():
    tally = Tally()
    tally.dropped(measured=True)
    tally.dropped(measured=False)  # a warm-up drop is not counted
    tally.sent("limited", sender=0, recipient=1, at=1.0, measured=True)
    tally.failed("limited", "rate_limited")
    tally.sent("slow", sender=0, recipient=1, at=1.0, measured=True)
    tally.failed("slow", "ack_timeout")
    tally.sent("lost", sender=2, recipient=3, at=1.0, measured=True)
    tally.acked("lost", 1.01)
    tally.sent("fine", sender=2, recipient=3, at=1.0, measured=True)
    tally.acked("fine", 1.01)
    tally.delivered("fine", recipient=3, at=1.02)
    assert tally.awaiting() == 1  # "lost": not refused, not delivered yet
    figures = tally.figures(0.0, 2.0)
    assert figures.errors == {"ack_timeout": 1, "dropped_by_client": 1, "missing_delivery": 1, "rate_limited": 1}
    assert figures.failed == 4 and figures.scheduled == 5 and figures.sent == 4


def test_repeated_stray_and_misdelivered_events_are_counted_apart_and_do_not_change_latency():
    tally = Tally()
    tally.sent("a", sender=0, recipient=1, at=0.0, measured=True)
    tally.delivered("a", recipient=1, at=0.010)
    tally.delivered("a", recipient=1, at=0.500)  # at-least-once: a second copy
    tally.delivered("a", recipient=5, at=0.020)  # someone else's connection
    tally.delivered("zzz", recipient=1, at=0.030)  # not a message of this run
    figures = tally.figures(0.0, 1.0)
    assert (figures.duplicates, figures.misdelivered, figures.strays) == (1, 1, 1)
    assert figures.delivery.max == pytest.approx(10.0)


def test_a_client_id_cannot_be_sent_twice():
    tally = Tally()
    tally.sent("a", sender=0, recipient=1, at=0.0, measured=True)
    with pytest.raises(ValueError):
        tally.sent("a", sender=0, recipient=1, at=0.1, measured=True)
