"""The node's per-second timers, cut to the measured window and put per sent message."""

from __future__ import annotations

from svyaz.bench.traces import window_costs


def test_only_whole_seconds_inside_the_window_count_and_costs_are_per_message():
    buckets = {
        "99": {"store private.messages insert": [1000, 100.0]},   # before the window: ignored
        "100": {"store private.messages insert": [10, 0.05], "step PrivateChats.send": [10, 0.4]},
        "101": {"store private.messages insert": [10, 0.05], "step PrivateChats.send": [10, 0.4]},
        "102": {"store private.messages insert": [1000, 100.0]},  # the partial last second: ignored
    }
    costs = window_costs(buckets, 99.5, 102.7, sends_per_s=10)
    assert costs["seconds"] == 2
    insert = costs["timers"]["store private.messages insert"]
    assert insert == {"per_message": 1.0, "mean_ms": 5.0, "ms_per_message": 5.0}
    assert list(costs["timers"]) == ["step PrivateChats.send", "store private.messages insert"]
    assert costs["store_commands_per_message"] == 1.0 and costs["store_ms_per_message"] == 5.0


def test_a_window_without_a_whole_second_or_without_sends_has_no_costs():
    assert window_costs({}, 10.2, 10.9, sends_per_s=5)["timers"] == {}
    assert window_costs({"10": {"x": [1, 1.0]}}, 10, 12, sends_per_s=0)["timers"] == {}
