"""The health monitor: probes each dependency on a fixed interval and keeps the node's readiness.

Each dependency has its own probing task, so a store that hangs does not delay the Kafka probe.
A probe that fails or times out is a state change, never a crash: the node keeps serving /healthz
and its gateway while it waits for the dependency to come back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import NoReturn

import trio

from svyaz.node.config import HealthConfig
from svyaz.node.errors import DependencyUnavailable
from svyaz.node.metrics import NodeMetrics
from svyaz.node.ports import Probe
from svyaz.node.readiness import Readiness, State, record_probe

logger = logging.getLogger("svyaz.node.health")


class HealthMonitor:
    def __init__(self, probes: Mapping[str, Probe], config: HealthConfig, metrics: NodeMetrics) -> None:
        self._probes = dict(probes)
        self._config = config
        self._metrics = metrics
        self.readiness = Readiness.unknown(self._probes, now=time.time())
        self._export(self.readiness)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Probe until cancelled; started as soon as every dependency has its probing task."""
        async with trio.open_nursery() as nursery:
            for name, probe in self._probes.items():
                nursery.start_soon(self._watch, name, probe)
            task_status.started()

    async def _watch(self, name: str, probe: Probe) -> NoReturn:
        while True:
            started = trio.current_time()
            error = await self._probe_once(probe)
            self._record(name, error)
            await trio.sleep_until(started + self._config.probe_interval_s)

    async def _probe_once(self, probe: Probe) -> str | None:
        """None if the probe answered in time, else the reason it did not."""
        with trio.move_on_after(self._config.probe_timeout_s):
            try:
                await probe.check()
            except DependencyUnavailable as err:
                return str(err)
            return None
        return f"no answer within {self._config.probe_timeout_s:g} s"

    def _record(self, name: str, error: str | None) -> None:
        outcome = record_probe(self.readiness, name, error=error, now=time.time())
        self.readiness = outcome.readiness
        self._export(outcome.readiness)
        if error is not None:
            self._metrics.probe_failures.labels(dependency=name).inc()
        if outcome.dependency_changed:
            if error is None:
                logger.info("dependency available", extra={"dependency": name})
            else:
                logger.warning("dependency unavailable", extra={"dependency": name, "error": error})
        if outcome.readiness_changed:
            if outcome.readiness.ready:
                logger.info("dependencies ready")
            else:
                logger.warning("dependencies not ready", extra={"failing": outcome.readiness.failing()})

    def _export(self, readiness: Readiness) -> None:
        for name, status in readiness.dependencies.items():
            self._metrics.dependency_up.labels(dependency=name).set(1 if status.state is State.UP else 0)
        self._metrics.ready.set(1 if readiness.ready else 0)
