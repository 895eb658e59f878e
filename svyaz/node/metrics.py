"""The node's Prometheus collectors, all in the node's own CollectorRegistry.

One registry per node (not prometheus_client's global one) keeps in-process test nodes apart and
keeps /metrics to what this node measures. Label values are always from a closed set: a label taken
from client input (a frame type, a URL path) would let a client create series without bound.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge


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
    )
