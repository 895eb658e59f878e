"""The channel bench's bookkeeping: which pushes count for which post, and the writes it reports."""

from svyaz.bench.channel import writes_between
from svyaz.bench.fanout import FanoutTally

CHANNEL = "c/ru/0123456789abcdef"


def created(chat: str, seq: int) -> dict:
    return {"type": "event", "kind": "message.created", "chat": chat, "message": {"seq": seq}}


def test_a_post_is_complete_when_every_expected_subscriber_had_it_once():
    tally = FanoutTally(CHANNEL, expected=2)
    post = tally.sending(10.0)
    tally.acked(post, 7, 10.02)
    tally.pushed(0, created(CHANNEL, 7), 10.05)
    tally.pushed(0, created(CHANNEL, 7), 10.50)   # a second device of the same subscriber: first arrival counts
    assert not tally.complete(post)
    tally.pushed(1, created(CHANNEL, 7), 10.10)

    figures = tally.figures(post)
    assert tally.complete(post)
    assert (figures["received"], figures["missing"], figures["ack_ms"]) == (2, 0, 20.0)
    assert (figures["delivery_ms"]["p50"], figures["delivery_ms"]["max"]) == (50.0, 100.0)


def test_other_chats_and_other_events_do_not_count():
    tally = FanoutTally(CHANNEL, expected=1)
    post = tally.sending(1.0)
    tally.acked(post, 1, 1.01)
    tally.pushed(0, created("c/ru/ffffffffffffffff", 1), 1.2)
    tally.pushed(0, {"type": "event", "kind": "typing", "chat": CHANNEL}, 1.2)
    tally.pushed(0, {"type": "reauth"}, 1.2)
    assert not tally.complete(post) and tally.figures(post)["delivery_ms"] is None


def test_a_push_that_overtakes_the_ack_is_kept_for_the_post_in_flight():
    tally = FanoutTally(CHANNEL, expected=1)
    post = tally.sending(5.0)
    tally.pushed(0, created(CHANNEL, 3), 5.03)   # before the ack named seq 3
    tally.acked(post, 3, 5.04)
    assert tally.complete(post) and tally.unmatched == 1
    assert tally.overall({3})["p50"] == 30.0 and tally.overall({4}) is None


def test_writes_are_counted_by_command_over_the_whole_seconds_of_the_window():
    buckets = {
        "100": {"store channels.messages insert": [1, 0.01], "store channels.heads find": [3, 0.02]},
        "101": {"store channels.heads update": [1, 0.01], "store core.presence update": [2, 0.01]},
        "102": {"store channels.messages insert": [5, 0.01]},
    }
    assert writes_between(buckets, 100.4, 101.9) == {
        "channels.messages insert": 1, "channels.heads update": 1, "core.presence update": 2}
