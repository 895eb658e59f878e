"""What a node tells about its federation: the `/federation` document of the side port and the
outbound metrics (docs/federation.md, "Watching it").

`FederationWatch` sits between the inbound consumer and its `InboundMonitor` (it passes every
report on, keeping the last `DEFAULT_WINDOW` lags per origin for percentiles) and is the
forwarder's observer through its `OutboundMonitor`. `watch_federation` attaches it to a built
`Federation` before the node runs it. No I/O after that: `document()` reads memory only, so the side
port answers it on the event loop.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import trio

from svyaz.federation.lag import DEFAULT_WINDOW, LagWindow
from svyaz.federation.trust import VerifiedEvent
from svyaz.node.federation.inbound import UNKNOWN_ORIGIN, InboundMonitor, OriginStats
from svyaz.node.federation.keys import federation_signer
from svyaz.node.metrics import NodeMetrics
from svyaz.regions import KNOWN_REGIONS

if TYPE_CHECKING:
    from svyaz.node.federation.service import Federation


def _region_label(region: str | None) -> str:
    return region if region in KNOWN_REGIONS else UNKNOWN_ORIGIN


def _iso(unix_s: float | None) -> str | None:
    return None if unix_s is None else datetime.fromtimestamp(unix_s, UTC).isoformat(timespec="milliseconds")


@dataclass
class DestinationStats:
    """What the forwarder sent to one destination from this process."""

    sent: int = 0
    failures: int = 0  # transient, retried
    last_sent_at: float | None = None  # Unix seconds
    last_delay_ms: int | None = None


class OutboundMonitor:
    """The forwarder's observer: a snapshot per destination and the `NodeMetrics` collectors, if
    given. Labels are known regions or "unknown"."""

    def __init__(self, metrics: NodeMetrics | None = None, *, destinations: Iterable[str] = (),
                 clock: Callable[[], float] = time.time) -> None:
        """`destinations`: the configured peers, whose series start at 0 (so a rate is defined
        before the first send)."""
        self._metrics = metrics
        self._clock = clock
        self._stats: dict[str, DestinationStats] = {}
        for destination in destinations:
            label = _region_label(destination)
            self._stats.setdefault(label, DestinationStats())
            if metrics is not None:
                metrics.federation_sent.labels(label)
                metrics.federation_send_failures.labels(label)
                metrics.federation_forward_delay.labels(label)

    def _of(self, destination: str) -> DestinationStats:
        return self._stats.setdefault(destination, DestinationStats())

    def sent(self, destination: str, delay_s: float) -> None:
        label = _region_label(destination)
        stats = self._of(label)
        stats.sent += 1
        stats.last_sent_at, stats.last_delay_ms = self._clock(), round(delay_s * 1000)
        if self._metrics is not None:
            self._metrics.federation_sent.labels(label).inc()
            self._metrics.federation_forward_delay.labels(label).observe(delay_s)

    def failed(self, destination: str) -> None:
        label = _region_label(destination)
        self._of(label).failures += 1
        if self._metrics is not None:
            self._metrics.federation_send_failures.labels(label).inc()

    def snapshot(self) -> dict[str, DestinationStats]:
        return copy.deepcopy(self._stats)


class FederationWatch:
    """The node's federation as the side port shows it. An `InboundObserver` (each report goes on to
    `inbound`, the monitor behind the inbound metrics) keeping a lag window per origin."""

    def __init__(self, *, region: str, key_id: str, pinned: Mapping[str, Iterable[str]],
                 inbound: InboundMonitor, metrics: NodeMetrics | None = None, window: int = DEFAULT_WINDOW,
                 clock: Callable[[], float] = time.time) -> None:
        """`pinned`: each peer's pinned key ids (`PeerKeys.key_ids`)."""
        self.region = region
        self.key_id = key_id
        self.pinned = {peer: tuple(ids) for peer, ids in sorted(pinned.items())}
        self.inbound = inbound
        self.outbound = OutboundMonitor(metrics, destinations=self.pinned, clock=clock)
        self._window = window
        self._lags: dict[str, LagWindow] = {}
        self._clock = clock

    # InboundObserver

    def applied(self, event: VerifiedEvent, lag_ms: int) -> None:
        self._lags.setdefault(_region_label(event.origin), LagWindow(self._window)).add(lag_ms)
        self.inbound.applied(event, lag_ms)

    def refused(self, origin: str | None, code: str, reason: str) -> None:
        self.inbound.refused(origin, code, reason)

    def backlog(self, origin: str, records: int) -> None:
        self.inbound.backlog(origin, records)

    # The /federation document

    def document(self) -> dict[str, object]:
        """This node's federation: its key, its peers and, per peer, what came in and went out.
        Origins that sent records but have no key pinned here are under `other_origins`."""
        inbound, outbound = self.inbound.snapshot(), self.outbound.snapshot()
        peers = {
            peer: {"key_ids": list(key_ids),
                   "inbound": self._inbound(peer, inbound.get(peer)),
                   "outbound": _outbound(outbound.get(peer))}
            for peer, key_ids in self.pinned.items()
        }
        others = {origin: self._inbound(origin, stats) for origin, stats in sorted(inbound.items())
                  if origin not in self.pinned}
        return {"region": self.region, "key_id": self.key_id, "at": _iso(self._clock()),
                "lag_window": self._window, "peers": peers, "other_origins": others}

    def _inbound(self, origin: str, stats: OriginStats | None) -> dict[str, object]:
        stats = stats or OriginStats()
        window = self._lags.get(origin) or LagWindow(self._window)
        return {"applied": stats.applied, "refused": dict(sorted(stats.refused.items())),
                "last_lag_ms": stats.last_lag_ms, "lag_ms": {**window.percentiles(), "samples": len(window)},
                "backlog": stats.backlog, "last_applied_at": _iso(stats.last_applied_at)}


def _outbound(stats: DestinationStats | None) -> dict[str, object]:
    stats = stats or DestinationStats()
    return {"sent": stats.sent, "failures": stats.failures, "last_sent_at": _iso(stats.last_sent_at),
            "last_delay_ms": stats.last_delay_ms}


async def watch_federation(federation: Federation, metrics: NodeMetrics | None) -> FederationWatch:
    """Attach a FederationWatch to `federation` (its forwarder's observer, and in front of its
    inbound monitor). Call it before `federation.run`: the consumer takes its observer when it starts."""
    config = federation.config
    peer_keys = config.federation.peer_keys
    assert peer_keys is not None, "load_config loads the pinned keys when federation is on"
    # The outbox loaded (or made) the key already: this reads the same files again, once.
    signer = await trio.to_thread.run_sync(federation_signer, config)
    watch = FederationWatch(region=config.region, key_id=signer.key_id,
                            pinned={peer: peer_keys.key_ids(peer) for peer in peer_keys.peers},
                            inbound=federation.monitor, metrics=metrics)
    federation.inbound.observer = watch
    federation.outbox.observer = watch.outbound
    return watch
