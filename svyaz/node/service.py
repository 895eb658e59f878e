"""The node's service tree: GOST check, dependency probes, health monitor, HTTP side port, the API
(identity, RBAC, audit, messaging; see `composition`), the retention purge and the lawful-access
sweep, the messaging feeds and the gateway.

`run` owns the one nursery they all live in. It reports the bound ports through `task_status`
once everything listens, then waits for SIGINT or SIGTERM and shuts down gracefully: the gateway
stops accepting and closes its connections with 1001, and whatever is left when
`node.shutdown_grace_s` runs out is cancelled.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial

import trio
from prometheus_client import CollectorRegistry

from svyaz.errors import SvyazError
from svyaz.gost import load_gost_provider
from svyaz.node.composition import keep_identity_indexes, open_node_api
from svyaz.node.config import NodeConfig
from svyaz.node.events import KafkaEventBusProbe
from svyaz.node.federation.watch import watch_federation
from svyaz.node.gateway import Gateway
from svyaz.node.health import HealthMonitor
from svyaz.node.http import HttpSidePort, SideRoutes
from svyaz.node.lawful_sweep import serve_lawful_sweep
from svyaz.node.messaging import FeedProbe
from svyaz.node.metrics import create_metrics
from svyaz.node.retention import serve_retention
from svyaz.node.store import open_store_probe

logger = logging.getLogger("svyaz.node")


@dataclass(frozen=True)
class BoundPorts:
    gateway: int
    http: int


async def run(
    config: NodeConfig, *, task_status: trio.TaskStatus[BoundPorts] = trio.TASK_STATUS_IGNORED
) -> None:
    """Run the node until SIGINT or SIGTERM, then shut down within the grace period and return.

    Raises GostUnavailable before anything starts when the GOST provider cannot be loaded, and a
    single SvyazError (not an exception group) when a service fails the same way, e.g. a port in use.
    """
    load_gost_provider()
    logger.info(
        "node starting",
        extra={
            "node": config.node.id,
            "store_url": config.store.url,
            "kafka": config.kafka.bootstrap_servers,
        },
    )
    # Opened first so a signal during start-up is kept and acted on once the node is up.
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        try:
            await _serve(config, signals, task_status)
        except BaseExceptionGroup as group:
            error = _sole_svyaz_error(group)
            if error is None:
                raise
            raise error from error.__cause__  # keeps e.g. the OSError behind "port in use"
    logger.info("node stopped")


async def _serve(
    config: NodeConfig, signals: AsyncIterator[int], task_status: trio.TaskStatus[BoundPorts]
) -> None:
    metrics = create_metrics(CollectorRegistry())
    async with open_store_probe(config.store) as store, open_node_api(config, metrics) as node_api:
        kafka = KafkaEventBusProbe(config.kafka, client_id=config.node.id)
        health = HealthMonitor({"store": store, "kafka": kafka, "live_feed": FeedProbe(node_api.messaging)},
                               config.health, metrics)
        watch = None if node_api.federation is None else await watch_federation(node_api.federation, metrics)
        side_port = HttpSidePort(config.http, SideRoutes(lambda: health.readiness, metrics.registry,
                                                         federation=None if watch is None else watch.document),
                                 metrics)
        gateway = Gateway(config.gateway, region=config.region, node_id=config.node.id, metrics=metrics,
                          api=node_api.api, authenticator=node_api.authenticator, identity=config.identity,
                          delivery=node_api.messaging.delivery)
        async with trio.open_nursery() as nursery:
            await nursery.start(health.run)
            # Not awaited to readiness: a node starts while Kafka or the store is down, and until
            # the roles are loaded every action needing a granted role is denied (fail closed).
            nursery.start_soon(node_api.run_role_watcher)
            nursery.start_soon(keep_identity_indexes, node_api.identity_store)
            await nursery.start(serve_retention, config, node_api.audit)  # retention.toml checked first
            await nursery.start(partial(serve_lawful_sweep, node_api.lawful,
                                        interval_s=config.lawful.expiry_sweep_interval_s))
            nursery.start_soon(node_api.messaging.run)
            if node_api.federation is not None:
                nursery.start_soon(node_api.federation.run)
            http_port = await nursery.start(side_port.run)
            gateway_port = await nursery.start(gateway.run)
            ports = BoundPorts(gateway=gateway_port, http=http_port)
            logger.info(
                "node ready",
                extra={"node": config.node.id, "gateway_port": gateway_port, "http_port": http_port},
            )
            task_status.started(ports)
            async for signum in signals:
                logger.info(
                    "shutting down",
                    extra={"signal": signal.Signals(signum).name, "grace_s": config.node.shutdown_grace_s},
                )
                break
            with trio.move_on_after(config.node.shutdown_grace_s) as grace:
                await gateway.drain()
            if grace.cancelled_caught:
                logger.warning("grace period over; cancelling what is left")
            nursery.cancel_scope.cancel()


def _sole_svyaz_error(group: BaseExceptionGroup) -> SvyazError | None:
    """The SvyazError inside `group` if it is the group's only leaf, so the CLI can print it plainly."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        current = pending.pop()
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        else:
            leaves.append(current)
    if len(leaves) == 1 and isinstance(leaves[0], SvyazError):
        return leaves[0]
    return None
