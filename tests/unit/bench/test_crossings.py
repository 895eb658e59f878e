"""Lag accounting of `svyaz bench federation`: lost, duplicated and out-of-order messages, figures
per region pair and overall, and the split of the lag by hop."""

from __future__ import annotations

import json

import pytest

from svyaz.bench.crossings import CrossingTally, all_pairs, pair_regions, parse_pairs, slowest_segment
from svyaz.bench.federation import mm2_settings
from svyaz.bench.topicwatch import sighting_of, watched_topics

REGIONS = ("ru", "by", "kz")


def crossed(tally, client_id, *, pair="ru-kz", chat=0, sent=0.0, lag=0.5, seq=None, measured=True):
    tally.sent(client_id, pair=pair, chat=chat, at=sent, measured=measured)
    tally.acked(client_id, sent + 0.05, seq)
    tally.received(client_id, chat=chat, at=sent + lag)


def test_lag_is_from_the_send_call_to_the_receivers_push_per_pair_and_overall():
    tally = CrossingTally()
    crossed(tally, "a", pair="ru-kz", chat=0, sent=10.0, lag=0.200, seq=1)
    crossed(tally, "b", pair="ru-kz", chat=0, sent=11.0, lag=0.400, seq=2)
    crossed(tally, "c", pair="kz-ru", chat=1, sent=10.5, lag=1.500, seq=1)
    figures = tally.figures(9.0, 12.0, ["ru-kz", "kz-ru"])
    assert figures.pairs["ru-kz"].lag.p50 == pytest.approx(200.0)
    assert figures.pairs["ru-kz"].lag.max == pytest.approx(400.0)
    assert figures.pairs["kz-ru"].lag.p99 == pytest.approx(1500.0)
    assert figures.overall.lag.count == 3 and figures.overall.lag.max == pytest.approx(1500.0)
    assert figures.pairs["ru-kz"].ack.p50 == pytest.approx(50.0)
    assert figures.overall.lost == figures.overall.failed == 0
    assert figures.send_rate == pytest.approx(1.0)


def test_an_acknowledged_message_never_received_is_lost():
    tally = CrossingTally()
    crossed(tally, "here", seq=1)
    tally.sent("gone", pair="ru-kz", chat=0, at=1.0, measured=True)
    tally.acked("gone", 1.05, 2)
    assert tally.awaiting() == 1
    figures = tally.figures(0.0, 2.0, ["ru-kz"])
    assert figures.pairs["ru-kz"].lost == figures.overall.lost == 1
    assert figures.overall.errors == {"lost": 1} and figures.overall.failed == 1
    assert figures.overall.received == 1 and figures.overall.lag.count == 1


def test_refused_and_unanswered_sends_are_errors_not_losses_unless_they_cross_anyway():
    tally = CrossingTally()
    tally.sent("refused", pair="ru-kz", chat=0, at=1.0, measured=True)
    tally.failed("refused", "rate_limited")
    tally.sent("slow", pair="ru-kz", chat=0, at=1.0, measured=True)
    tally.failed("slow", "ack_timeout")
    tally.received("slow", chat=0, at=12.0)  # it crossed after all: a lag, not a failure
    tally.dropped("ru-kz", measured=True)
    tally.dropped("ru-kz", measured=False)   # warm-up: not counted
    figures = tally.figures(0.0, 2.0, ["ru-kz"]).pairs["ru-kz"]
    assert figures.errors == {"dropped_by_client": 1, "rate_limited": 1}
    assert figures.lost == 0 and figures.failed == 2 and figures.scheduled == 3
    assert figures.received == 1 and figures.lag.max == pytest.approx(11000.0)


def test_a_second_push_of_one_message_is_a_duplicate_and_keeps_the_first_arrival():
    tally = CrossingTally()
    crossed(tally, "m", sent=1.0, lag=0.3, seq=1)
    tally.received("m", chat=0, at=5.0)
    tally.received("m", chat=0, at=6.0)
    figures = tally.figures(0.0, 2.0, ["ru-kz"]).overall
    assert figures.duplicates == 2 and figures.received == 1
    assert figures.lag.max == pytest.approx(300.0)


def test_out_of_order_is_against_the_senders_numbering_within_one_chat():
    tally = CrossingTally()
    crossed(tally, "one", chat=0, sent=1.0, lag=0.9, seq=1)    # overtaken: arrives at 1.9
    crossed(tally, "two", chat=0, sent=1.1, lag=0.2, seq=2)    # arrives at 1.3
    crossed(tally, "three", chat=0, sent=1.2, lag=0.8, seq=3)  # arrives at 2.0, after both: in order
    # Another chat's numbering is its own: its seq 1 after chat 0's seq 3 is fine.
    crossed(tally, "other", pair="kz-ru", chat=1, sent=1.5, lag=1.0, seq=1)
    figures = tally.figures(0.0, 3.0, ["ru-kz", "kz-ru"])
    assert figures.pairs["ru-kz"].out_of_order == 1 and figures.pairs["kz-ru"].out_of_order == 0
    assert figures.overall.out_of_order == 1


def test_warm_up_messages_count_for_order_but_not_in_the_figures():
    tally = CrossingTally()
    crossed(tally, "warm", chat=0, sent=1.0, lag=1.4, seq=5, measured=False)  # arrives at 2.4
    crossed(tally, "hot", chat=0, sent=2.0, lag=0.5, seq=4)                   # 2.5: after seq 5
    crossed(tally, "hot2", chat=0, sent=2.1, lag=1.0, seq=6)                  # 3.1: in order
    figures = tally.figures(1.5, 3.0, ["ru-kz"]).overall
    assert figures.sent == 2 and figures.lag.count == 2 and figures.out_of_order == 1


def test_pushes_to_the_wrong_chat_and_of_unknown_messages_are_counted_apart():
    tally = CrossingTally()
    tally.sent("m", pair="ru-kz", chat=0, at=1.0, measured=True)
    tally.received("m", chat=3, at=1.2)
    tally.received("unknown", chat=0, at=1.2)
    figures = tally.figures(0.0, 2.0, ["ru-kz"])
    assert figures.misdelivered == 1 and figures.strays == 1
    assert figures.overall.lost == 1


def test_hops_split_the_lag_into_segments_and_name_the_slowest():
    tally = CrossingTally()
    for n, base in enumerate((0.0, 10.0)):
        crossed(tally, f"m{n}", chat=0, sent=base, lag=1.0, seq=n + 1)
        for hop, offset in (("event", 0.05), ("outbox", 0.10), ("mirror", 0.80), ("arrival", 0.90)):
            tally.hop(f"m{n}", hop, base + offset)
    tally.hop("m0", "outbox", 99.0)    # a second sighting (a re-send) does not move the first
    tally.hop("unknown", "event", 1.0)  # of no message of this run: ignored
    figures = tally.figures(-1.0, 11.0, ["ru-kz"])
    assert figures.hops["send->event"].p50 == pytest.approx(50.0)
    assert figures.hops["event->outbox"].p50 == pytest.approx(50.0)
    assert figures.hops["outbox->mirror"].p50 == pytest.approx(700.0)
    assert figures.hops["mirror->arrival"].p50 == pytest.approx(100.0)
    assert figures.hops["arrival->push"].p50 == pytest.approx(100.0)
    assert figures.hop_coverage == {"event": 2, "outbox": 2, "mirror": 2, "arrival": 2}
    assert slowest_segment(figures.hops) == "outbox->mirror"
    with pytest.raises(ValueError):
        tally.hop("m0", "somewhere", 1.0)


def test_a_message_sent_twice_is_a_bench_bug():
    tally = CrossingTally()
    tally.sent("m", pair="ru-kz", chat=0, at=1.0, measured=True)
    with pytest.raises(ValueError):
        tally.sent("m", pair="ru-kz", chat=0, at=2.0, measured=True)


def test_the_fastest_crossing_of_a_pair():
    tally = CrossingTally()
    crossed(tally, "a", pair="ru-kz", chat=0, lag=3.0, measured=False)
    crossed(tally, "b", pair="ru-kz", chat=1, lag=1.5, measured=False)
    assert tally.fastest("ru-kz") == pytest.approx(1.5)
    assert tally.fastest("kz-ru") is None


def test_pairs_are_parsed_checked_and_their_regions_listed():
    assert parse_pairs("ru-kz, kz-ru,ru-by", REGIONS) == ("ru-kz", "kz-ru", "ru-by")
    assert all_pairs(REGIONS) == ("ru-by", "ru-kz", "by-ru", "by-kz", "kz-ru", "kz-by")
    assert pair_regions(("kz-ru", "ru-by")) == ("kz", "ru", "by")
    for bad in ("", "ru", "ru-ru", "ru-xx", "ru-kz,ru-kz", "ru_kz"):
        with pytest.raises(ValueError):
            parse_pairs(bad, REGIONS)


def test_the_topic_watch_finds_the_client_id_at_each_hop():
    topics = watched_topics("kz", "t0123abcd.", ["ru"])
    assert topics == {"t0123abcd.private.events": "events", "t0123abcd.outbox.ru": "outbox",
                      "ru.t0123abcd.outbox.kz": "mirror"}
    local = json.dumps({"kind": "message.created", "data": {"client_id": "c1"}}).encode()
    applied = json.dumps({"kind": "message.created", "origin": "ru", "data": {"client_id": "c1"}}).encode()
    envelope = json.dumps({"kind": "message.created", "payload": {"client_id": "c1", "sender": "@a:ru"}}).encode()
    assert sighting_of("events", local) == ("event", "c1")
    assert sighting_of("events", applied) == ("arrival", "c1")
    assert sighting_of("outbox", envelope) == ("outbox", "c1")
    assert sighting_of("mirror", envelope) == ("mirror", "c1")
    receipt = json.dumps({"kind": "receipt.read", "payload": {"reader": "@b:kz"}}).encode()
    for value in (receipt, b"not json", b"[]", json.dumps({"kind": "message.created", "data": 3}).encode(), None):
        assert sighting_of("events", value) is None and sighting_of("outbox", value) is None


def test_the_mirrormaker_settings_in_force_are_read_from_the_stacks_file(tmp_path):
    (tmp_path / "mirrormaker").mkdir()
    (tmp_path / "mirrormaker" / "mm2.properties").write_text(
        "# header\nclusters = ru, kz\nru.bootstrap.servers = 127.0.0.1:19092\nru.consumer.fetch.max.wait.ms = 50\n"
        "ru.producer.linger.ms = 0\nru->kz.enabled = true\nru->kz.topics = outbox\\.kz\ntasks.max = 1\n"
        "replication.factor = 1\nrefresh.topics.interval.seconds = 1\nru.consumer.allow.auto.create.topics = false\n")
    assert mm2_settings(tmp_path)["settings"] == {
        "ru.consumer.fetch.max.wait.ms": "50", "ru.producer.linger.ms": "0", "tasks.max": "1",
        "refresh.topics.interval.seconds": "1", "ru.consumer.allow.auto.create.topics": "false"}
    assert "error" in mm2_settings(tmp_path / "nowhere")


def test_a_restarted_broker_or_mirrormaker_during_the_window_is_named():
    from svyaz.bench.federation import stack_changes

    before = {"kafka kz": [10], "mirrormaker2": [11]}
    assert stack_changes(before, {"kafka kz": [10], "mirrormaker2": [11]}, ["mirrormaker2", "kafka kz"]) == {}
    assert stack_changes(before, {"kafka kz": [10], "mirrormaker2": [20]}) == {"mirrormaker2": ([11], [20])}
    assert stack_changes(before, {"mirrormaker2": [11]}) == {"kafka kz": ([10], [])}
    # Missing from both readings: not running through the whole window.
    assert stack_changes({"kafka kz": [10]}, {"kafka kz": [10]}, ["mirrormaker2"]) == {"mirrormaker2": ([], [])}
