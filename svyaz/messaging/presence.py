"""One account's presence from what each gateway of the node knows of it.

Each gateway records only its own connections (`<account>|<gateway>`), so gateways never write
over each other: an account connected to two gateways that leaves one is still online through the
other. A gateway announces itself with an epoch (new at every start) and a heartbeat; what a
gateway recorded in an earlier epoch (before a crash) or while it has stopped beating counts as
gone, since no connection can still be held there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class GatewayState:
    gateway: str
    epoch: str
    seen_at: float     # its last heartbeat


@dataclass(frozen=True)
class Sighting:
    """What one gateway recorded of one account."""

    gateway: str
    epoch: str
    online: bool
    at: float          # since when online, or when last seen


def combined(sightings: Iterable[Sighting], gateways: dict[str, GatewayState], *, now: float,
             liveness_s: float) -> tuple[bool, float] | None:
    """(online, since or last seen) of an account, None if no gateway ever saw it.

    Online while any live gateway, in its current epoch, holds a connection (since the earliest of
    those); otherwise offline since the latest moment it was seen anywhere."""
    online_since: list[float] = []
    last_seen: list[float] = []
    for sighting in sightings:
        state = gateways.get(sighting.gateway)
        alive = state is not None and state.epoch == sighting.epoch and now - state.seen_at <= liveness_s
        if sighting.online and alive:
            online_since.append(sighting.at)
        elif sighting.online:
            # Its gateway stopped (or restarted) while it held the connection: seen until then.
            last_seen.append(min(now, state.seen_at) if state is not None and state.epoch == sighting.epoch
                             else sighting.at)
        else:
            last_seen.append(sighting.at)
    if online_since:
        return True, min(online_since)
    if last_seen:
        return False, max(last_seen)
    return None
