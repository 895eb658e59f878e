"""The names of the federation topics (docs/federation.md). Pure: no I/O.

A region's node produces to `<prefix>outbox.<peer>` on its own cluster, one topic per peer;
MirrorMaker 2 copies it to the peer's cluster as `<origin>.<prefix>outbox.<peer>` (it prefixes the
source cluster's alias), which the peer's inbound consumer reads. Refused inbound records go to
`<prefix>federation.dead-letter` on the receiving cluster. `prefix` is the node's Kafka topic
prefix (`kafka.topic_prefix`, empty in production, `t1234abcd.` in tests).
"""

from __future__ import annotations


def outbox_topic(prefix: str, peer: str) -> str:
    """Where this node puts the events bound for `peer` (on its own cluster)."""
    return f"{prefix}outbox.{peer}"


def inbound_topic(prefix: str, origin: str, region: str) -> str:
    """Where `origin`'s events for `region` arrive on `region`'s cluster (MirrorMaker 2's copy of
    `origin`'s `outbox_topic(prefix, region)`)."""
    return f"{origin}.{outbox_topic(prefix, region)}"


def dead_letter_topic(prefix: str) -> str:
    """Where the inbound consumer moves the records it refuses (on the receiving cluster)."""
    return f"{prefix}federation.dead-letter"


def origin_of_inbound(topic: str, prefix: str, region: str) -> str | None:
    """The origin an inbound topic name stands for (`kz` for `kz.<prefix>outbox.ru` on ru), or None
    if `topic` is not an inbound topic of `region` under `prefix`."""
    origin, dot, rest = topic.partition(".")
    if not dot or rest != outbox_topic(prefix, region) or not origin:
        return None
    return origin
