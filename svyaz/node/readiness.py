"""Readiness as data: each dependency's state after its last probe, and what a new result changed.

Pure: no trio, no drivers, no clock. The health monitor feeds results in and acts on the changes
(logs, gauges); /readyz renders the current value.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

NOT_PROBED = "not probed yet"


class State(enum.Enum):
    UNKNOWN = "unknown"
    UP = "up"
    DOWN = "down"


@dataclass(frozen=True)
class DependencyStatus:
    state: State
    error: str | None
    since: float
    """Wall-clock seconds when `state` last changed."""


@dataclass(frozen=True)
class Readiness:
    dependencies: Mapping[str, DependencyStatus]

    @classmethod
    def unknown(cls, names: Iterable[str], *, now: float) -> Readiness:
        """Every dependency UNKNOWN until its first probe: a starting node is not ready."""
        return cls(
            MappingProxyType({name: DependencyStatus(State.UNKNOWN, NOT_PROBED, now) for name in names})
        )

    @property
    def ready(self) -> bool:
        return all(status.state is State.UP for status in self.dependencies.values())

    def failing(self) -> list[str]:
        """Names of the dependencies that keep the node from being ready."""
        return [name for name, status in self.dependencies.items() if status.state is not State.UP]


@dataclass(frozen=True)
class ProbeOutcome:
    readiness: Readiness
    dependency_changed: bool
    """The dependency went up or down (the first probe always counts)."""
    readiness_changed: bool
    """The node as a whole became ready or stopped being ready."""


def record_probe(readiness: Readiness, name: str, *, error: str | None, now: float) -> ProbeOutcome:
    """Apply one probe result (`error` None means it answered) and say what changed.

    A dependency that keeps failing with a different message keeps its `since`: it has been down
    since the first failure, and the new text is not a transition worth another log line.
    """
    before = readiness.dependencies[name]
    state = State.UP if error is None else State.DOWN
    changed = state is not before.state
    status = DependencyStatus(state, error, now) if changed else replace(before, error=error)
    after = Readiness(MappingProxyType({**readiness.dependencies, name: status}))
    return ProbeOutcome(after, dependency_changed=changed, readiness_changed=after.ready != readiness.ready)
