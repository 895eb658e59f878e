"""The node's Prometheus collectors, all in the node's own CollectorRegistry.

One registry per node (not prometheus_client's global one) keeps in-process test nodes apart and
keeps /metrics to what this node measures. Label values are always from a closed set: a label taken
from client input (a frame type, a URL path) would let a client create series without bound.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Federation lag (now - envelope.created_at at apply): tens of milliseconds when the link is
# healthy, seconds when MirrorMaker 2 catches up; an outage's backlog lands in +Inf.
FEDERATION_LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(frozen=True)
class NodeMetrics:
    registry: CollectorRegistry
    ready: Gauge
    dependency_up: Gauge
    probe_failures: Counter
    gateway_open_connections: Gauge
    gateway_connections: Counter
    gateway_frames_received: Counter
    gateway_frames_sent: Counter
    gateway_frame_errors: Counter
    http_requests: Counter
    # Inbound federation (svyaz/node/federation/inbound.py), labelled only with closed sets:
    # origin is a known region or "unknown", code a refusal code or "apply_failed".
    federation_applied: Counter
    federation_refused: Counter
    federation_lag: Histogram
    federation_backlog: Gauge
    federation_last_applied: Gauge
    # Outbound federation (svyaz/node/federation/forwarder.py, watch.py): destination is a known
    # region or "unknown".
    federation_sent: Counter
    federation_send_failures: Counter
    federation_forward_delay: Histogram


def create_metrics(registry: CollectorRegistry) -> NodeMetrics:
    return NodeMetrics(
        registry=registry,
        ready=Gauge(
            "svyaz_node_ready", "1 while every dependency answered its last probe", registry=registry
        ),
        dependency_up=Gauge(
            "svyaz_node_dependency_up",
            "1 while the dependency answered its last probe",
            ["dependency"],
            registry=registry,
        ),
        probe_failures=Counter(
            "svyaz_node_probe_failures", "Probes that failed or timed out", ["dependency"], registry=registry
        ),
        gateway_open_connections=Gauge(
            "svyaz_gateway_open_connections", "WebSocket connections open now", registry=registry
        ),
        gateway_connections=Counter(
            "svyaz_gateway_connections",
            "WebSocket handshakes by outcome (accepted, rejected)",
            ["outcome"],
            registry=registry,
        ),
        gateway_frames_received=Counter(
            "svyaz_gateway_frames_received", "WebSocket messages received from clients", registry=registry
        ),
        gateway_frames_sent=Counter(
            "svyaz_gateway_frames_sent",
            "WebSocket frames sent to clients by type",
            ["type"],
            registry=registry,
        ),
        gateway_frame_errors=Counter(
            "svyaz_gateway_frame_errors",
            "Client frames answered with an error frame, by code",
            ["code"],
            registry=registry,
        ),
        http_requests=Counter(
            "svyaz_http_requests",
            "Side-port HTTP requests by route and status",
            ["route", "status"],
            registry=registry,
        ),
        federation_applied=Counter(
            "svyaz_federation_applied", "Inbound federation events applied, by origin region", ["origin"],
            registry=registry,
        ),
        federation_refused=Counter(
            "svyaz_federation_refused",
            "Inbound federation records refused (moved to the dead-letter topic), by origin and code",
            ["origin", "code"],
            registry=registry,
        ),
        federation_lag=Histogram(
            "svyaz_federation_lag_seconds",
            "Time from an event's creation at its origin to its application here",
            ["origin"],
            buckets=FEDERATION_LAG_BUCKETS,
            registry=registry,
        ),
        federation_backlog=Gauge(
            "svyaz_federation_backlog_records",
            "Inbound federation records not yet fetched by this process, by origin",
            ["origin"],
            registry=registry,
        ),
        federation_last_applied=Gauge(
            "svyaz_federation_last_applied_timestamp",
            "Unix time (seconds) of the last inbound federation event applied, by origin",
            ["origin"],
            registry=registry,
        ),
        federation_sent=Counter(
            "svyaz_federation_sent",
            "Federation events the forwarder sent and Kafka acknowledged on outbox.<destination>",
            ["destination"],
            registry=registry,
        ),
        federation_send_failures=Counter(
            "svyaz_federation_send_failures",
            "Federation sends that failed for a transient reason (Kafka or the store away) and are retried",
            ["destination"],
            registry=registry,
        ),
        federation_forward_delay=Histogram(
            "svyaz_federation_forward_delay_seconds",
            "Time from a local event to its acknowledgement on the outbox of a destination",
            ["destination"],
            buckets=FEDERATION_LAG_BUCKETS,
            registry=registry,
        ),
    )
