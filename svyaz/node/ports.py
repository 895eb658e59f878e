"""The ports the node's services call; adapters in `store` and `events` implement them.

Services depend on these protocols, never on pymongo or confluent-kafka, so tests can hand them
fakes and another backend (a different Mongo-wire server, another Kafka client) changes no service.
The store and Kafka probes share one shape, so they share one port.
"""

from __future__ import annotations

from typing import Protocol


class Probe(Protocol):
    """A dependency the node needs in order to be ready (the store, Kafka)."""

    async def check(self) -> None:
        """Return if the dependency answered; raise DependencyUnavailable with the reason otherwise."""
        ...
