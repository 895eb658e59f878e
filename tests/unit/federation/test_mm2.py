"""The MirrorMaker 2 configuration: golden output, and no topic but `outbox.<peer>` can cross."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from svyaz.federation import mm2
from svyaz.federation.errors import FederationConfigError
from svyaz.stack.services import MirrorMaker, Runtime

GOLDEN = Path(__file__).parent / "golden"
RUNTIME = Runtime(java="java", kafka_lib=Path("/lib"), log4j_config=Path("/l"), ferretdb=Path("/f"))


def _settings(text: str) -> dict[str, str]:
    pairs = [line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")]
    keys = [key.strip() for key, _ in pairs]
    assert len(keys) == len(set(keys)), "a setting appears twice"
    return {key.strip(): value.strip() for key, value in pairs}


def _crossing(text: str, topic: str) -> set[tuple[str, str]]:
    """The flows that would replicate `topic`, reading the allow-lists as MirrorMaker 2 does
    (comma-separated regexes, each matched against the whole topic name)."""
    settings_ = _settings(text)
    flows = set()
    for key, value in settings_.items():
        if key.endswith(".topics") and settings_.get(key.replace(".topics", ".enabled")) == "true":
            if any(re.fullmatch(pattern.strip(), topic) for pattern in value.split(",")):
                flows.add(tuple(key.removesuffix(".topics").split("->")))
    return flows


def test_the_three_region_config_matches_the_golden_file():
    text = mm2.properties(mm2.clusters(("ru", "by", "kz")))
    assert text == (GOLDEN / "mm2-ru-by-kz.properties").read_text()


def test_the_dev_stack_writes_the_same_config_under_its_own_header(tmp_path):
    stack = MirrorMaker(("ru", "by", "kz"), tmp_path, RUNTIME).properties()
    golden = (GOLDEN / "mm2-ru-by-kz.properties").read_text()

    assert stack.splitlines()[0] == "# Written by `svyaz stack up` from the region list; edits are overwritten."
    assert stack.splitlines()[1:] == golden.splitlines()[1:]


@pytest.mark.parametrize("regions", [("ru", "by", "kz"), ("ru", "kz"), ("kz", "by")])
def test_each_outbox_crosses_only_to_its_peer(regions):
    text = mm2.properties(mm2.clusters(regions))
    for source in regions:
        for peer in regions:
            if peer != source:
                assert _crossing(text, f"outbox.{peer}") == {(r, peer) for r in regions if r != peer}
    for flow in mm2.flows(regions):
        assert _settings(text)[f"{flow[0]}->{flow[1]}.topics"] == re.escape(f"outbox.{flow[1]}")


@pytest.mark.parametrize("topic", [
    "private", "chat", "channel", "receipts", "t1234abcd.private", "outbox", "outbox.", "outbox.xx",
    "outboxXkz", "outbox_kz", "outbox.kz.extra", "xoutbox.kz", "ru.outbox.kz", "kz.outbox.ru",
    "mm2-offsets.ru.internal", "heartbeats", "ru.checkpoints.internal", "__consumer_offsets", "audit",
    "outbox.kz\n", "OUTBOX.KZ",
])
def test_no_other_topic_can_be_mirrored(topic):
    assert _crossing(mm2.properties(mm2.clusters(("ru", "by", "kz"))), topic) == set()


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
    assert "topics" not in settings_ and "groups" not in settings_  # no global allow-list to widen it
    assert {key for key in settings_ if key.endswith(".topics")} == {"ru->kz.topics", "kz->ru.topics"}


def test_low_latency_tuning_per_cluster():
    settings_ = _settings(mm2.properties(mm2.clusters(("ru", "kz"), ["kz=kafka-1.kz:9092,kafka-2.kz:9092"]),
                                          replication_factor=3))

    assert settings_["kz.bootstrap.servers"] == "kafka-1.kz:9092,kafka-2.kz:9092"
    assert settings_["ru.bootstrap.servers"] == "127.0.0.1:19092"
    assert settings_["ru.consumer.fetch.max.wait.ms"] == settings_["kz.consumer.fetch.max.wait.ms"] == "50"
    assert settings_["ru.producer.linger.ms"] == "0"
    assert settings_["replication.factor"] == settings_["offset-syncs.topic.replication.factor"] == "3"


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
])
def test_bad_input_is_refused_before_anything_is_written(call, message):
    with pytest.raises(FederationConfigError, match=message):
        call()


def test_names_of_the_outbox_topics():
    assert mm2.outbox_topic("kz") == "outbox.kz"
    assert mm2.mirrored_topic("ru", "kz") == "ru.outbox.kz"
