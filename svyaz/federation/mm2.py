"""The MirrorMaker 2 configuration (dedicated mode) for a set of regions: the one generator, used
by `svyaz federation mm2-config` and by the development stack (`svyaz.stack.services`).

The allow-list is the compliance boundary. Each flow `a->b` replicates exactly the topic
`outbox.b` of a's cluster (an anchored regex: MirrorMaker 2 matches the whole name), arriving in
b's cluster as `a.outbox.b`; no other topic crosses a border. Heartbeats, checkpoints, consumer-group
offset sync and ACL sync are off, so none of their topics or metadata cross either. MirrorMaker 2
still copies the topic configuration of `outbox.b` itself (retention and the like, no records).

May import only the standard library, `svyaz.regions` and `svyaz.federation`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from svyaz.federation.errors import FederationConfigError
from svyaz.regions import KNOWN_REGIONS, PORTS

OUTBOX_PREFIX = "outbox."
_BOOTSTRAP = re.compile(r"[A-Za-z0-9._\[\]:-]+:\d{1,5}(,[A-Za-z0-9._\[\]:-]+:\d{1,5})*")
CLI_HEADER = "# Written by `svyaz federation mm2-config`; regenerate it rather than edit it."


def outbox_topic(peer: str) -> str:
    """The topic a region writes the events bound for `peer` to."""
    return f"{OUTBOX_PREFIX}{peer}"


def mirrored_topic(source: str, peer: str) -> str:
    """What `outbox.<peer>` of `source` is called once it has arrived in peer's cluster."""
    return f"{source}.{outbox_topic(peer)}"


def flows(regions: Sequence[str]) -> list[tuple[str, str]]:
    """Every (source, target) pair, in the order of `regions`."""
    return [(a, b) for a in regions for b in regions if a != b]


def dev_bootstrap(region: str) -> str:
    """The development stack's Kafka address of `region` (svyaz.regions)."""
    return f"127.0.0.1:{PORTS[region].kafka}"


def parse_regions(text: str) -> tuple[str, ...]:
    """`"ru,by,kz"` -> ("ru", "by", "kz"): known, distinct, at least two."""
    regions = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [region for region in regions if region not in KNOWN_REGIONS]
    if unknown:
        raise FederationConfigError(f"--regions: unknown region {unknown[0]!r}",
                                    hint=f"use some of {','.join(KNOWN_REGIONS)}")
    if len(set(regions)) != len(regions):
        raise FederationConfigError(f"--regions: a region is listed twice in {text!r}")
    if len(regions) < 2:
        raise FederationConfigError("--regions: federation needs at least two regions",
                                    hint="for example --regions ru,by,kz")
    return regions


def clusters(regions: Sequence[str], overrides: Iterable[str] = ()) -> dict[str, str]:
    """region -> bootstrap servers: the development ports unless `--cluster ru=host:port[,...]` says
    otherwise."""
    chosen = {region: dev_bootstrap(region) for region in regions}
    for override in overrides:
        region, sep, bootstrap = override.partition("=")
        region, bootstrap = region.strip(), bootstrap.strip()
        if not sep or region not in chosen:
            raise FederationConfigError(
                f"--cluster {override!r}: expected REGION=host:port with REGION one of {','.join(regions)}")
        chosen[region] = bootstrap
    return chosen


def properties(bootstrap: Mapping[str, str], *, header: str = CLI_HEADER, replication_factor: int = 1) -> str:
    """mm2.properties for the regions in `bootstrap` (region -> Kafka bootstrap servers), in its
    order. Replication factor 1 suits one broker per region (development); use 3 in production."""
    regions = tuple(bootstrap)
    for region in regions:
        if region not in KNOWN_REGIONS:
            raise FederationConfigError(f"clusters: unknown region {region!r}")
        # The value goes into a properties file: a newline or a stray `=` would add settings.
        if not isinstance(bootstrap[region], str) or not _BOOTSTRAP.fullmatch(bootstrap[region]):
            raise FederationConfigError(
                f"clusters.{region}: expected host:port[,host:port...], got {str(bootstrap[region])[:80]!r}")
    if len(regions) < 2:
        raise FederationConfigError("clusters: federation needs at least two regions")
    if isinstance(replication_factor, bool) or not isinstance(replication_factor, int) or replication_factor < 1:
        raise FederationConfigError(f"replication factor: expected a positive integer, got {replication_factor!r}")
    if "\n" in header or not header.startswith("#"):
        raise FederationConfigError("header: expected one comment line")
    rf = replication_factor
    lines = [
        header,
        f"clusters = {', '.join(regions)}",
        # Plugin discovery by ServiceLoader manifests instead of a classpath scan (~5 s per
        # scan): once here for the process, and per cluster below for each herder's worker.
        "plugin.discovery = service_load",
    ]
    for region in regions:
        lines += [
            f"{region}.bootstrap.servers = {bootstrap[region]}",
            # Latency over batching: a federated message should cross in well under a second.
            f"{region}.consumer.fetch.max.wait.ms = 50",
            f"{region}.producer.linger.ms = 0",
            f"{region}.plugin.discovery = service_load",
        ]
    for source, target in flows(regions):
        lines += [
            f"{source}->{target}.enabled = true",
            f"{source}->{target}.topics = {re.escape(outbox_topic(target))}",
        ]
    lines += [
        "tasks.max = 1",
        f"replication.factor = {rf}",
        f"checkpoints.topic.replication.factor = {rf}",
        f"heartbeats.topic.replication.factor = {rf}",
        f"offset-syncs.topic.replication.factor = {rf}",
        f"offset.storage.replication.factor = {rf}",
        f"status.storage.replication.factor = {rf}",
        f"config.storage.replication.factor = {rf}",
        "emit.heartbeats.enabled = false",
        "emit.checkpoints.enabled = false",
        "sync.group.offsets.enabled = false",
        "sync.topic.acls.enabled = false",
        "sync.topic.configs.enabled = false",
        "refresh.topics.interval.seconds = 10",
        "",
    ]
    return "\n".join(lines)
