"""The node's /federation document and outbound metrics (svyaz/node/federation/watch.py) and the
side-port route that serves it. No I/O."""

from __future__ import annotations

import json

import pytest
from prometheus_client import CollectorRegistry

from svyaz.federation.envelope import decode, encode
from svyaz.federation.lag import DEFAULT_WINDOW
from svyaz.node.federation.inbound import InboundMonitor
from svyaz.node.federation.watch import FederationWatch, OutboundMonitor
from svyaz.node.http import SideRoutes
from svyaz.node.metrics import create_metrics
from svyaz.node.readiness import Readiness

from tests.unit.federation.conftest import NOW

AT = 1_718_000_000.25  # the clock of the watch, Unix seconds
AT_ISO = "2024-06-10T06:13:20.250+00:00"


@pytest.fixture
def event(ru, kz_trust):
    raw = encode(ru.seal(destination="kz", stream="dm/@a:ru/@b:kz", seq=1, kind="message.created",
                         payload={}, created_at=NOW))
    return kz_trust.verify(decode(raw, local_region="kz", now=NOW))


@pytest.fixture
def registry():
    return CollectorRegistry()


@pytest.fixture
def watch(registry):
    metrics = create_metrics(registry)
    return FederationWatch(region="kz", key_id="00112233aabbccdd", pinned={"ru": ("a1", "a2"), "by": ("b1",)},
                           inbound=InboundMonitor(metrics, clock=lambda: AT), metrics=metrics, clock=lambda: AT)


def test_before_anything_crossed_every_peer_is_listed_with_its_pinned_keys(watch, registry):
    document = watch.document()

    assert document == {
        "region": "kz", "key_id": "00112233aabbccdd", "at": AT_ISO, "lag_window": DEFAULT_WINDOW,
        "peers": {
            peer: {"key_ids": key_ids,
                   "inbound": {"applied": 0, "refused": {}, "last_lag_ms": None,
                               "lag_ms": {"p50": None, "p95": None, "p99": None, "samples": 0},
                               "backlog": None, "last_applied_at": None},
                   "outbound": {"sent": 0, "failures": 0, "last_sent_at": None, "last_delay_ms": None}}
            for peer, key_ids in (("by", ["b1"]), ("ru", ["a1", "a2"]))},
        "other_origins": {}}
    json.dumps(document)  # what the side port sends
    # The peers' series exist from the start, at zero.
    assert registry.get_sample_value("svyaz_federation_sent_total", {"destination": "ru"}) == 0
    assert registry.get_sample_value("svyaz_federation_send_failures_total", {"destination": "by"}) == 0


def test_inbound_reports_reach_the_monitor_and_the_lag_window(watch, event, registry):
    for lag in (30, 10, 20, 500):
        watch.applied(event, lag)
    watch.refused("ru", "forged", "the signature does not verify")
    watch.refused("ru", "malformed", "not JSON")
    watch.refused("ru", "malformed", "not JSON")
    watch.backlog("ru", 4)

    inbound = watch.document()["peers"]["ru"]["inbound"]
    assert inbound == {"applied": 4, "refused": {"forged": 1, "malformed": 2}, "last_lag_ms": 500,
                       "lag_ms": {"p50": 20, "p95": 500, "p99": 500, "samples": 4}, "backlog": 4,
                       "last_applied_at": AT_ISO}
    # The monitor behind the inbound metrics saw every report too.
    assert watch.inbound.snapshot()["ru"].applied == 4
    assert registry.get_sample_value("svyaz_federation_applied_total", {"origin": "ru"}) == 4
    assert registry.get_sample_value("svyaz_federation_refused_total", {"origin": "ru", "code": "malformed"}) == 2


def test_records_from_an_origin_not_pinned_here_are_shown_apart(watch):
    watch.refused(None, "malformed", "not JSON")
    watch.refused("xx", "unknown_origin", "no such region")

    document = watch.document()
    assert set(document["peers"]) == {"by", "ru"}
    assert document["other_origins"]["unknown"]["refused"] == {"malformed": 1, "unknown_origin": 1}


def test_the_lag_window_keeps_the_last_lags_only(registry, event):
    metrics = create_metrics(registry)
    watch = FederationWatch(region="kz", key_id="k", pinned={"ru": ("a1",)}, inbound=InboundMonitor(metrics),
                            metrics=metrics, window=3)
    for lag in (9000, 9000, 9000, 5, 6, 7):
        watch.applied(event, lag)

    assert watch.document()["peers"]["ru"]["inbound"]["lag_ms"] == {"p50": 6, "p95": 7, "p99": 7, "samples": 3}


def test_the_outbound_monitor_counts_per_destination(registry):
    monitor = OutboundMonitor(create_metrics(registry), destinations=("ru",), clock=lambda: AT)
    monitor.sent("ru", 0.040)
    monitor.sent("ru", 0.120)
    monitor.failed("ru")
    monitor.sent("zz", 0.1)  # never a label outside the known regions

    stats = monitor.snapshot()
    assert (stats["ru"].sent, stats["ru"].failures, stats["ru"].last_sent_at, stats["ru"].last_delay_ms) == \
        (2, 1, AT, 120)
    sample = registry.get_sample_value
    assert sample("svyaz_federation_sent_total", {"destination": "ru"}) == 2
    assert sample("svyaz_federation_send_failures_total", {"destination": "ru"}) == 1
    assert sample("svyaz_federation_forward_delay_seconds_bucket", {"destination": "ru", "le": "0.05"}) == 1
    assert sample("svyaz_federation_forward_delay_seconds_sum", {"destination": "ru"}) == pytest.approx(0.16)
    assert sample("svyaz_federation_sent_total", {"destination": "unknown"}) == 1
    assert sample("svyaz_federation_sent_total", {"destination": "zz"}) is None


def test_the_outbound_figures_show_under_their_peer(watch):
    watch.outbound.sent("ru", 0.0625)
    watch.outbound.failed("by")

    peers = watch.document()["peers"]
    assert peers["ru"]["outbound"] == {"sent": 1, "failures": 0, "last_sent_at": AT_ISO, "last_delay_ms": 62}
    assert peers["by"]["outbound"] == {"sent": 0, "failures": 1, "last_sent_at": None, "last_delay_ms": None}


# --- the side-port route ---------------------------------------------------------------------------


def _routes(federation=None) -> SideRoutes:
    return SideRoutes(lambda: Readiness.unknown(["store"], now=0.0), CollectorRegistry(), federation=federation)


def test_the_side_port_serves_the_document(watch):
    response = _routes(watch.document).respond("GET", "/federation")

    assert (response.status, response.content_type, response.route) == (200, "application/json", "federation")
    assert json.loads(response.body)["peers"]["ru"]["key_ids"] == ["a1", "a2"]


def test_without_federation_the_route_says_so():
    response = _routes().respond("GET", "/federation?x=1")

    assert (response.status, response.route) == (404, "federation")
    assert json.loads(response.body) == {
        "error": "federation_off", "message": "federation is not enabled on this node (federation.enabled)"}


def test_the_route_takes_get_and_head_only(watch):
    response = _routes(watch.document).respond("POST", "/federation")
    assert (response.status, response.allow) == (405, "GET, HEAD")
