"""The pure parts of the inbound consumer: topic names, the observer's closed label sets and its
snapshot, and the audit entry a refusal makes. No I/O."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from svyaz.compliance.audit.chain import check_event
from svyaz.compliance.audit.event import AuditEvent
from svyaz.federation.envelope import decode, encode
from svyaz.federation.errors import REFUSAL_CODES
from svyaz.node.federation.inbound import DEAD_LETTER_CODES, InboundMonitor, audit_refusals
from svyaz.node.federation.topic_names import dead_letter_topic, inbound_topic, origin_of_inbound, outbox_topic
from svyaz.node.metrics import create_metrics

from tests.unit.federation.conftest import NOW


def test_topic_names_match_what_mirrormaker_2_makes_of_the_outbox():
    assert outbox_topic("", "kz") == "outbox.kz"
    assert inbound_topic("", "ru", "kz") == "ru.outbox.kz"  # MirrorMaker 2 prefixes the source alias
    assert outbox_topic("t1234abcd.", "kz") == "t1234abcd.outbox.kz"
    assert inbound_topic("t1234abcd.", "ru", "kz") == "ru.t1234abcd.outbox.kz"
    assert dead_letter_topic("t1234abcd.") == "t1234abcd.federation.dead-letter"


@pytest.mark.parametrize(("topic", "origin"), [
    ("ru.outbox.kz", "ru"), ("by.outbox.kz", "by"), ("ru.outbox.by", None), ("outbox.kz", None),
    ("ru.outbox.kz.x", None), ("ru.t1234abcd.outbox.kz", None),
])
def test_the_origin_of_an_inbound_topic(topic, origin):
    assert origin_of_inbound(topic, "", "kz") == origin


@pytest.fixture
def event(ru, kz_trust):
    raw = encode(ru.seal(destination="kz", stream="dm/@a:ru/@b:kz", seq=1, kind="message.created",
                         payload={}, created_at=NOW))
    return kz_trust.verify(decode(raw, local_region="kz", now=NOW))


def test_the_monitor_keeps_a_snapshot_and_the_metrics_per_origin(event):
    registry = CollectorRegistry()
    monitor = InboundMonitor(create_metrics(registry), clock=lambda: 1_718_000_000.5)
    monitor.applied(event, 120)
    monitor.applied(event, 80)
    monitor.refused("ru", "forged", "the signature does not verify")
    monitor.backlog("ru", 7)

    stats = monitor.snapshot()["ru"]
    assert stats.as_dict() == {"applied": 2, "refused": {"forged": 1}, "last_lag_ms": 80, "backlog": 7,
                               "last_applied_at": 1_718_000_000.5}
    sample = registry.get_sample_value
    assert sample("svyaz_federation_applied_total", {"origin": "ru"}) == 2
    assert sample("svyaz_federation_refused_total", {"origin": "ru", "code": "forged"}) == 1
    assert sample("svyaz_federation_lag_seconds_bucket", {"origin": "ru", "le": "0.1"}) == 1
    assert sample("svyaz_federation_lag_seconds_sum", {"origin": "ru"}) == pytest.approx(0.2)
    assert sample("svyaz_federation_backlog_records", {"origin": "ru"}) == 7
    assert sample("svyaz_federation_last_applied_timestamp", {"origin": "ru"}) == 1_718_000_000.5


def test_labels_come_only_from_closed_sets_whatever_a_peer_sends():
    registry = CollectorRegistry()
    monitor = InboundMonitor(create_metrics(registry))
    monitor.refused("xx'; drop", "a_code_made_up_by_an_applier", "why")
    monitor.refused(None, "malformed", "not JSON")

    assert monitor.snapshot()["unknown"].refused == {"refused": 1, "malformed": 1}
    series = {tuple(sorted(sample.labels.items())) for metric in registry.collect()
              if metric.name == "svyaz_federation_refused" for sample in metric.samples}
    assert series == {(("code", "refused"), ("origin", "unknown")), (("code", "malformed"), ("origin", "unknown"))}
    assert set(REFUSAL_CODES) < set(DEAD_LETTER_CODES) and "apply_failed" in DEAD_LETTER_CODES


def test_the_snapshot_is_a_copy(event):
    monitor = InboundMonitor()
    monitor.refused("ru", "forged", "x")
    monitor.snapshot()["ru"].refused["forged"] = 99
    assert monitor.snapshot()["ru"].refused == {"forged": 1}


async def test_a_refusal_is_audited_as_a_denied_federation_action():
    recorded: list[AuditEvent] = []

    class Sink:
        async def record(self, entry: AuditEvent) -> None:
            recorded.append(entry)

    audit = audit_refusals(Sink(), "kz")
    await audit("ru", "forged", "the signature does not verify", "ru.outbox.kz/3/41")
    await audit(None, "malformed", "not JSON", "ru.outbox.kz/0/7")

    assert recorded[0] == AuditEvent(
        actor="federation:ru", role="none", action="federation.inbound.refuse", target="ru.outbox.kz/3/41",
        region="kz", request_id="ru.outbox.kz/3/41", outcome="denied",
        detail={"code": "forged", "reason": "the signature does not verify"})
    assert recorded[1].actor == "federation:unknown"
    for entry in recorded:
        check_event(entry)  # what the audit log accepts
