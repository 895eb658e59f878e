"""The MirrorMaker 2 configuration: golden output, and no topic but `<prefix>outbox.<peer>` can cross."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from svyaz.federation import mm2
from svyaz.federation.errors import FederationConfigError
from svyaz.stack.services import STACK_HEADER, STACK_REFRESH_TOPICS_INTERVAL_S, TEST_TOPIC_PREFIXES, MirrorMaker, Runtime

GOLDEN = Path(__file__).parent / "golden"
RUNTIME = Runtime(java="java", kafka_lib=Path("/lib"), log4j_config=Path("/l"), ferretdb=Path("/f"))


def _settings(text: str) -> dict[str, str]:
    pairs = [line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")]
    keys = [key.strip() for key, _ in pairs]
    assert len(keys) == len(set(keys)), "a setting appears twice"
    return {key.strip(): value.strip() for key, value in pairs}


# A flow's allow-list; `ru.consumer.allow.auto.create.topics` and the like are client settings.
_FLOW_TOPICS = re.compile(r"[a-z]+->[a-z]+\.topics")


def _crossing(text: str, topic: str) -> set[tuple[str, str]]:
    """The flows that would replicate `topic`, reading the allow-lists as MirrorMaker 2 does
    (comma-separated regexes, each matched against the whole topic name)."""
    settings_ = _settings(text)
    flows = set()
    for key, value in settings_.items():
        if _FLOW_TOPICS.fullmatch(key) and settings_.get(key.replace(".topics", ".enabled")) == "true":
            if any(re.fullmatch(pattern.strip(), topic) for pattern in value.split(",")):
                flows.add(tuple(key.removesuffix(".topics").split("->")))
    return flows


def test_the_three_region_config_matches_the_golden_file():
    text = mm2.properties(mm2.clusters(("ru", "by", "kz")))
    assert text == (GOLDEN / "mm2-ru-by-kz.properties").read_text()


def _stack_config(regions=("ru", "by", "kz")) -> str:
    return MirrorMaker(regions, Path("/state"), RUNTIME).properties()


def test_the_dev_stack_differs_only_in_header_test_prefixes_and_refresh():
    stack = _stack_config()
    golden = (GOLDEN / "mm2-ru-by-kz.properties").read_text()

    assert stack.splitlines()[0] == "# Written by `svyaz stack up` from the region list; edits are overwritten."
    assert stack == mm2.properties(mm2.clusters(("ru", "by", "kz")), header=STACK_HEADER,
                                   prefix_pattern=TEST_TOPIC_PREFIXES,
                                   refresh_topics_interval_s=STACK_REFRESH_TOPICS_INTERVAL_S)
    differing = {(g.split("=")[0].strip(), s_.split("=")[0].strip())
                 for g, s_ in zip(golden.splitlines()[1:], stack.splitlines()[1:]) if g != s_}
    assert {g for g, _ in differing} == {f"{a}->{b}.topics" for a, b in mm2.flows(("ru", "by", "kz"))} | {
        "refresh.topics.interval.seconds"}
    assert all(g == s_ for g, s_ in differing)  # same keys, line for line
    assert _settings(stack)["ru->kz.topics"] == r"(t[0-9a-f]{8}\.)?outbox\.kz"
    assert 1 <= STACK_REFRESH_TOPICS_INTERVAL_S < mm2.REFRESH_TOPICS_INTERVAL_S


@pytest.mark.parametrize("prefix", ["", "svyaz.", "prod-1.eu_a."])
@pytest.mark.parametrize("regions", [("ru", "by", "kz"), ("ru", "kz"), ("kz", "by")])
def test_each_outbox_crosses_only_to_its_peer(regions, prefix):
    text = mm2.properties(mm2.clusters(regions), topic_prefix=prefix)
    for source in regions:
        for peer in regions:
            if peer != source:
                assert _crossing(text, f"{prefix}outbox.{peer}") == {(r, peer) for r in regions if r != peer}
    for flow in mm2.flows(regions):
        assert _settings(text)[f"{flow[0]}->{flow[1]}.topics"] == re.escape(f"{prefix}outbox.{flow[1]}")


@pytest.mark.parametrize("topic", [
    "private", "chat", "channel", "receipts", "t1234abcd.private", "outbox", "outbox.", "outbox.xx",
    "outboxXkz", "outbox_kz", "outbox.kz.extra", "xoutbox.kz", "ru.outbox.kz", "kz.outbox.ru",
    "mm2-offsets.ru.internal", "heartbeats", "ru.checkpoints.internal", "__consumer_offsets", "audit",
    "outbox.kz\n", "OUTBOX.KZ",
])
def test_no_other_topic_can_be_mirrored(topic):
    assert _crossing(mm2.properties(mm2.clusters(("ru", "by", "kz"))), topic) == set()


@pytest.mark.parametrize("topic", [
    "outbox.kz", "svyazXoutbox.kz", "svyaz.outbox.kz.x", "ru.svyaz.outbox.kz", "t3f9a1c2b.outbox.kz",
    "svyaz.svyaz.outbox.kz", "svyaz.private.events", "Svyaz.outbox.kz", "svyaz.outbox.kz\n",
])
def test_with_a_prefix_only_the_prefixed_outbox_crosses(topic):
    text = mm2.properties(mm2.clusters(("ru", "by", "kz")), topic_prefix="svyaz.")

    assert _crossing(text, "svyaz.outbox.kz") == {("ru", "kz"), ("by", "kz")}
    assert _crossing(text, topic) == set()


@pytest.mark.parametrize("topic, flows", [
    ("outbox.kz", {("ru", "kz"), ("by", "kz")}),
    ("t3f9a1c2b.outbox.kz", {("ru", "kz"), ("by", "kz")}),
    ("t00000000.outbox.ru", {("by", "ru"), ("kz", "ru")}),
    ("tffffffff.outbox.by", {("ru", "by"), ("kz", "by")}),
])
def test_the_dev_stack_carries_each_tests_own_outbox_to_its_peer(topic, flows):
    assert _crossing(_stack_config(), topic) == flows


@pytest.mark.parametrize("topic", [
    "ru.t3f9a1c2b.outbox.kz", "t3f9a1c2b.outbox.kz.x", "x.outbox.kz", "t3f9a1c2b.private.events",
    "t3f9a1c2b.private", "t3f9a1c2b.outbox", "t3f9a1c2b.outbox.", "t3f9a1c2b.outbox.xx",
    "t3f9a1c2.outbox.kz", "t3f9a1c2b0.outbox.kz", "tt3f9a1c2b.outbox.kz", "T3F9A1C2B.outbox.kz",
    "t3F9A1C2B.outbox.kz", "t3f9a1c2g.outbox.kz", "u3f9a1c2b.outbox.kz", "t3f9a1c2b_outbox.kz",
    "t3f9a1c2bXoutbox.kz", "t3f9a1c2b..outbox.kz", ".outbox.kz", "t3f9a1c2b.t3f9a1c2b.outbox.kz",
    "t3f9a1c2b.ru.outbox.kz", "kz.t3f9a1c2b.outbox.ru", "t3f9a1c2b.outbox.kz\n", "t3f9a1c2b.outbox.kz,outbox.kz",
    "private", "ru.outbox.kz", "outbox.kz.extra", "heartbeats", "ru.heartbeats", "mm2-offsets.ru.internal",
])
def test_the_dev_stack_carries_no_other_topic(topic):
    assert _crossing(_stack_config(), topic) == set()


def _stack_oracle(topic: str) -> str | None:
    """The peer a topic goes to under the stack's allow-list, worked out without a regex."""
    rest = topic
    if len(topic) > 10 and topic[0] == "t" and topic[9] == "." and all(c in "0123456789abcdef" for c in topic[1:9]):
        rest = topic[10:]
    for peer in ("ru", "by", "kz"):
        if rest == f"outbox.{peer}":
            return peer
    return None


@settings(max_examples=400, deadline=None)
@given(st.builds(
    lambda head, tail: head + tail,
    st.one_of(st.sampled_from(["", "t3f9a1c2b.", "t0123abcd.", "t3f9a1c2.", "ru.t3f9a1c2b.", "x."]),
              st.text(alphabet="t0123456789abcdefgA.x", max_size=11)),
    st.one_of(st.sampled_from(["outbox.ru", "outbox.by", "outbox.kz", "outbox.kz.x", "private.events"]),
              st.text(alphabet="outbxkzry._-", max_size=10)),
))
def test_the_dev_stack_carries_a_topic_only_if_it_is_an_outbox_with_at_most_a_test_prefix(topic):
    peer = _stack_oracle(topic)
    expected = set() if peer is None else {(source, peer) for source in ("ru", "by", "kz") if source != peer}
    assert _crossing(_stack_config(), topic) == expected


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(alphabet="abkruyzotx._-0\\*", max_size=12),
                 st.sampled_from(["outbox.ru", "outbox.by", "outbox.kz"])))
def test_a_topic_crosses_only_if_it_is_exactly_an_outbox(topic):
    crossing = _crossing(mm2.properties(mm2.clusters(("ru", "by", "kz"))), topic)
    if topic in {"outbox.ru", "outbox.by", "outbox.kz"}:
        peer = topic.removeprefix("outbox.")
        assert crossing == {(source, peer) for source in ("ru", "by", "kz") if source != peer}
    else:
        assert crossing == set()


def test_nothing_else_crosses_heartbeats_checkpoints_offsets_acls():
    settings_ = _settings(mm2.properties(mm2.clusters(("ru", "kz"))))

    assert settings_["emit.heartbeats.enabled"] == "false"
    assert settings_["emit.checkpoints.enabled"] == "false"
    assert settings_["sync.group.offsets.enabled"] == "false"
    assert settings_["sync.topic.acls.enabled"] == "false"
    assert settings_["sync.topic.configs.enabled"] == "false"
    assert settings_["heartbeats.replication.enabled"] == "false"  # else every `heartbeats` topic crosses
    assert "topics" not in settings_ and "groups" not in settings_  # no global allow-list to widen it
    assert {key for key in settings_ if _FLOW_TOPICS.fullmatch(key)} == {"ru->kz.topics", "kz->ru.topics"}
    assert {key for key in settings_ if key.endswith("topics") and not _FLOW_TOPICS.fullmatch(key)} == {
        "ru.consumer.allow.auto.create.topics", "kz.consumer.allow.auto.create.topics"}


def test_latency_and_delivery_settings_per_cluster():
    settings_ = _settings(mm2.properties(mm2.clusters(("ru", "kz"), ["kz=kafka-1.kz:9092,kafka-2.kz:9092"]),
                                          replication_factor=3))

    assert settings_["kz.bootstrap.servers"] == "kafka-1.kz:9092,kafka-2.kz:9092"
    assert settings_["ru.bootstrap.servers"] == "127.0.0.1:19092"
    assert settings_["ru.consumer.fetch.max.wait.ms"] == settings_["kz.consumer.fetch.max.wait.ms"] == "50"
    assert settings_["ru.producer.linger.ms"] == "0"
    assert settings_["replication.factor"] == settings_["offset-syncs.topic.replication.factor"] == "3"
    for region in ("ru", "kz"):
        # Delivery first: no loss, retries neither duplicate nor reorder, a short duplicate window
        # after a crash, and no source topic brought back by MirrorMaker 2's own consumer.
        assert settings_[f"{region}.producer.acks"] == "all"
        assert settings_[f"{region}.producer.enable.idempotence"] == "true"
        assert settings_[f"{region}.offset.flush.interval.ms"] == "5000"
        assert settings_[f"{region}.consumer.allow.auto.create.topics"] == "false"
        # A worker back from its cluster's outage gets its connector again at once, not after 5 min.
        assert settings_[f"{region}.scheduled.rebalance.max.delay.ms"] == "0"
    assert settings_["refresh.topics.interval.seconds"] == str(mm2.REFRESH_TOPICS_INTERVAL_S) == "10"


@pytest.mark.parametrize("call, message", [
    (lambda: mm2.parse_regions("ru"), "at least two"),
    (lambda: mm2.parse_regions("ru,xx"), "unknown region 'xx'"),
    (lambda: mm2.parse_regions("ru,ru"), "twice"),
    (lambda: mm2.clusters(("ru", "kz"), ["by=h:1"]), "--cluster"),
    (lambda: mm2.clusters(("ru", "kz"), ["kz"]), "--cluster"),
    (lambda: mm2.properties({"ru": "h:1", "kz": "h:2\nsync.topic.acls.enabled = true"}), "clusters.kz"),
    (lambda: mm2.properties({"ru": "h:1", "kz": "h:2 , x=y"}), "clusters.kz"),
    (lambda: mm2.properties({"ru": "h:1"}), "at least two"),
    (lambda: mm2.properties({"ru": "h:1", "kz": "h:2"}, replication_factor=0), "replication factor"),
    (lambda: mm2.properties({"ru": "h:1", "kz": "h:2"}, topic_prefix="svyaz"), "ending with '.'"),
    (lambda: mm2.properties({"ru": "h:1", "kz": "h:2"}, topic_prefix="a..b."), "ending with '.'"),
    (lambda: mm2.properties({"ru": "h:1", "kz": "h:2"}, topic_prefix=".svyaz."), "ending with '.'"),
    (lambda: mm2.properties({"ru": "h:1", "kz": "h:2"}, topic_prefix="a b."), "ending with '.'"),
    (lambda: mm2.properties({"ru": "h:1", "kz": "h:2"}, topic_prefix="a,b."), "ending with '.'"),
    (lambda: mm2.properties({"ru": "h:1", "kz": "h:2"}, topic_prefix="(t.)?"), "ending with '.'"),
    (lambda: mm2.properties({"ru": "h:1", "kz": "h:2"}, topic_prefix="x.\ny = z."), "ending with '.'"),
    (lambda: mm2.properties({"ru": "h:1", "kz": "h:2"}, topic_prefix="é."), "ending with '.'"),
    (lambda: mm2.properties({"ru": "h:1", "kz": "h:2"}, topic_prefix="a" * 100 + "."), "at most 100"),
    (lambda: mm2.properties({"ru": "h:1", "kz": "h:2"}, topic_prefix="__svyaz."), "internal"),
    (lambda: mm2.properties({"ru": "h:1", "kz": "h:2"}, topic_prefix="kz."), "region name 'kz'"),
    (lambda: mm2.properties({"ru": "h:1", "kz": "h:2"}, topic_prefix="by.svyaz."), "region name 'by'"),
    (lambda: mm2.properties({"ru": "h:1", "kz": "h:2"}, topic_prefix="a.", prefix_pattern="b?"), "not both"),
    (lambda: mm2.properties({"ru": "h:1", "kz": "h:2"}, prefix_pattern="(x|y.{1,2})?"), "no commas"),
    (lambda: mm2.properties({"ru": "h:1", "kz": "h:2"}, prefix_pattern="x? "), "no commas"),
    (lambda: mm2.properties({"ru": "h:1", "kz": "h:2"}, prefix_pattern="(x"), "not a regex"),
    (lambda: mm2.properties({"ru": "h:1", "kz": "h:2"}, refresh_topics_interval_s=0), "refresh interval"),
    (lambda: mm2.properties({"ru": "h:1", "kz": "h:2"}, refresh_topics_interval_s=1.5), "refresh interval"),
    (lambda: mm2.properties({"ru": "h:1", "kz": "h:2"}, refresh_topics_interval_s=True), "refresh interval"),
])
def test_bad_input_is_refused_before_anything_is_written(call, message):
    with pytest.raises(FederationConfigError, match=message):
        call()


def test_names_of_the_outbox_topics():
    assert mm2.outbox_topic("kz") == "outbox.kz"
    assert mm2.mirrored_topic("ru", "kz") == "ru.outbox.kz"
    assert mm2.outbox_topic("kz", "t3f9a1c2b.") == "t3f9a1c2b.outbox.kz"
    assert mm2.mirrored_topic("ru", "kz", "t3f9a1c2b.") == "ru.t3f9a1c2b.outbox.kz"


@pytest.mark.parametrize("prefix", ["", "svyaz.", "t3f9a1c2b.", "prod-1.eu_a.", "_x.", "a" * 99 + "."])
def test_acceptable_topic_prefixes(prefix):
    assert mm2.topic_prefix_error(prefix) is None
