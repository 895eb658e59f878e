"""The health monitor against fake probes, on trio's autojump clock: no sockets, no sleeping."""

from __future__ import annotations

import logging

import pytest
import trio
from prometheus_client import CollectorRegistry

from svyaz.node.config import HealthConfig
from svyaz.node.errors import DependencyUnavailable
from svyaz.node.health import HealthMonitor
from svyaz.node.metrics import create_metrics
from svyaz.node.readiness import State

CONFIG = HealthConfig(probe_interval_s=1.0, probe_timeout_s=0.5)


class FakeProbe:
    """Answers, fails or hangs as the test says; counts its checks."""

    def __init__(self) -> None:
        self.error: str | None = None
        self.hang = False
        self.checks = 0

    async def check(self) -> None:
        self.checks += 1
        if self.hang:
            await trio.sleep_forever()
        if self.error is not None:
            raise DependencyUnavailable(self.error)


@pytest.fixture
def probes():
    return {"store": FakeProbe(), "kafka": FakeProbe()}


@pytest.fixture
def metrics():
    return create_metrics(CollectorRegistry())


def gauge(metrics, name, **labels):
    return metrics.registry.get_sample_value(name, labels)


async def test_probes_every_interval_and_becomes_ready(probes, metrics, nursery, autojump_clock):
    monitor = HealthMonitor(probes, CONFIG, metrics)
    assert not monitor.readiness.ready
    assert gauge(metrics, "svyaz_node_ready") == 0
    await nursery.start(monitor.run)
    await trio.sleep(0.1)
    assert monitor.readiness.ready
    assert gauge(metrics, "svyaz_node_ready") == 1
    assert gauge(metrics, "svyaz_node_dependency_up", dependency="store") == 1
    await trio.sleep(3)
    assert probes["store"].checks == 4  # at 0, 1, 2 and 3 seconds


async def test_a_failing_dependency_is_recorded_not_raised(probes, metrics, nursery, autojump_clock):
    monitor = HealthMonitor(probes, CONFIG, metrics)
    await nursery.start(monitor.run)
    await trio.sleep(0.1)
    probes["store"].error = "store: connection refused"
    await trio.sleep(1)
    status = monitor.readiness.dependencies["store"]
    assert (status.state, status.error) == (State.DOWN, "store: connection refused")
    assert not monitor.readiness.ready
    assert gauge(metrics, "svyaz_node_dependency_up", dependency="store") == 0
    assert gauge(metrics, "svyaz_node_dependency_up", dependency="kafka") == 1
    assert gauge(metrics, "svyaz_node_probe_failures_total", dependency="store") == 1

    probes["store"].error = None
    await trio.sleep(1)
    assert monitor.readiness.ready


async def test_a_hanging_probe_times_out_without_delaying_the_others(
    probes, metrics, nursery, autojump_clock
):
    probes["store"].hang = True
    monitor = HealthMonitor(probes, CONFIG, metrics)
    await nursery.start(monitor.run)
    await trio.sleep(0.6)
    store = monitor.readiness.dependencies["store"]
    assert (store.state, store.error) == (State.DOWN, "no answer within 0.5 s")
    assert monitor.readiness.dependencies["kafka"].state is State.UP
    await trio.sleep(2)
    assert probes["kafka"].checks == probes["store"].checks == 3  # the hang did not slow kafka's rhythm


async def test_transitions_are_logged_once_each(probes, metrics, nursery, autojump_clock, caplog):
    caplog.set_level(logging.INFO, logger="svyaz.node.health")
    monitor = HealthMonitor(probes, CONFIG, metrics)
    await nursery.start(monitor.run)
    await trio.sleep(0.1)
    probes["kafka"].error = "kafka: broker transport failure"
    await trio.sleep(5)  # five failing probes
    probes["kafka"].error = None
    await trio.sleep(5)

    messages = [(record.getMessage(), getattr(record, "dependency", None)) for record in caplog.records]
    # trio runs the two probing tasks in either order at first.
    assert set(messages[:2]) == {("dependency available", "store"), ("dependency available", "kafka")}
    assert messages[2:] == [
        ("dependencies ready", None),
        ("dependency unavailable", "kafka"),
        ("dependencies not ready", None),
        ("dependency available", "kafka"),
        ("dependencies ready", None),
    ]
    unavailable = caplog.records[3]
    assert unavailable.levelno == logging.WARNING
    assert unavailable.error == "kafka: broker transport failure"
    assert caplog.records[4].failing == ["kafka"]
