"""MirrorMaker 2 carries `outbox.<peer>` to that peer and nothing else across a border."""

from __future__ import annotations

import time

from tests.integration.kafkatools import cluster_contains, produce, topics, wait_for_record

# Generous bound for a loaded 2-core CI box; the lag itself is measured by `svyaz demo`/benchmarks.
ARRIVAL_BOUND_S = 15.0


def test_outbox_record_reaches_its_peer_under_the_source_prefix(stack, test_id):
    key = f"{test_id}-hello".encode()
    produce(stack.kafka("ru"), "outbox.kz", key, b"privet from ru")

    arrived = wait_for_record(stack.kafka("kz"), "ru.outbox.kz", key, ARRIVAL_BOUND_S)

    assert arrived == b"privet from ru"


def test_topics_off_the_allow_list_never_reach_any_peer(stack, test_id):
    marker = f"{test_id}-must-stay-in-ru".encode()
    private_topic = f"{test_id}.private"  # named like every test topic, so the session removes it
    produce(stack.kafka("ru"), private_topic, marker, marker)
    # outbox.kz is allowed toward kz only: by must never receive it.
    produce(stack.kafka("ru"), "outbox.kz", marker, marker)
    # A record produced after the others, on an allowed path to each peer: once it has crossed,
    # MirrorMaker 2 has had every chance to (wrongly) carry the earlier ones too.
    barrier = f"{test_id}-barrier".encode()
    produce(stack.kafka("ru"), "outbox.by", barrier, barrier)
    assert wait_for_record(stack.kafka("by"), "ru.outbox.by", barrier, ARRIVAL_BOUND_S) == barrier
    assert wait_for_record(stack.kafka("kz"), "ru.outbox.kz", marker, ARRIVAL_BOUND_S) == marker
    time.sleep(1.0)  # the topic refresh can only widen what crosses; give it a moment to misbehave

    assert not any(private_topic in topic for topic in topics(stack.kafka("by")) | topics(stack.kafka("kz")))
    assert cluster_contains(stack.kafka("by"), marker) == []
    assert cluster_contains(stack.kafka("kz"), marker) == ["ru.outbox.kz"]
