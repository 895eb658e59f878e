"""The channel bench's bookkeeping: which pushes count for which post, and the writes it reports."""

from svyaz.bench.channel import writes_between
from svyaz.bench.fanout import FanoutTally

CHANNEL = "c/ru/0123456789abcdef"


def test_a_post_is_complete_when_every_expected_subscriber_had_it_once():
    tally = FanoutTally(CHANNEL, expected=2)
    post = tally.sending(10.0)
    tally.acked(post, 7, 10.02)
    tally.arrived(0, 7, 10.05)
    tally.arrived(0, 7, 10.50)   # a second device of the same subscriber: the first arrival counts
    assert not tally.complete(post)
    tally.arrived(1, 7, 10.10)

    figures = tally.figures(post)
    assert tally.complete(post)
    assert (figures["received"], figures["missing"], figures["ack_ms"]) == (2, 0, 20.0)
    assert (figures["delivery_ms"]["p50"], figures["delivery_ms"]["max"]) == (50.0, 100.0)


def test_an_arrival_that_overtakes_the_ack_is_kept_for_the_post_in_flight():
    tally = FanoutTally(CHANNEL, expected=1)
    post = tally.sending(5.0)
    tally.arrived(0, 3, 5.03)   # before the ack named seq 3
    tally.acked(post, 3, 5.04)
    assert tally.complete(post) and tally.unmatched == 1
    assert tally.overall({3})["p50"] == 30.0 and tally.overall({4}) is None


def test_an_arrival_before_any_post_is_ignored():
    tally = FanoutTally(CHANNEL, expected=1)
    tally.arrived(0, 1, 1.0)
    assert tally.posts == [] and tally.unmatched == 0


def test_writes_are_counted_by_command_over_the_whole_seconds_of_the_window():
    buckets = {
        "100": {"store channels.messages insert": [1, 0.01], "store channels.heads find": [3, 0.02]},
        "101": {"store channels.heads update": [1, 0.01], "store core.presence update": [2, 0.01]},
        "102": {"store channels.messages insert": [5, 0.01]},
    }
    assert writes_between(buckets, 100.4, 101.9) == {
        "channels.messages insert": 1, "channels.heads update": 1, "core.presence update": 2}
