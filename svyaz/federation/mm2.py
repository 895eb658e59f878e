"""The MirrorMaker 2 configuration (dedicated mode) for a set of regions: the one generator, used
by `svyaz federation mm2-config` and by the development stack (`svyaz.stack.services`).

The allow-list is the compliance boundary. Each flow `a->b` replicates exactly the topic
`<prefix>outbox.b` of a's cluster (an anchored regex: MirrorMaker 2 matches the whole name), where
`<prefix>` is the nodes' `kafka.topic_prefix` (empty by default), arriving in b's cluster as
`a.<prefix>outbox.b`; no other topic crosses a border. Heartbeats (emitted or replicated),
checkpoints, consumer-group offset sync, ACL sync and topic-config sync are off, so none of their
topics, records or metadata cross either.

May import only the standard library, `svyaz.regions` and `svyaz.federation`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from svyaz.federation.errors import FederationConfigError
from svyaz.regions import KNOWN_REGIONS, PORTS

OUTBOX_PREFIX = "outbox."
_BOOTSTRAP = re.compile(r"[A-Za-z0-9._\[\]:-]+:\d{1,5}(,[A-Za-z0-9._\[\]:-]+:\d{1,5})*")
# Dot-terminated, non-empty segments: `svyaz.`, `prod-1.eu_a.`. MirrorMaker 2 reads the first
# segment of a topic name as the cluster it came from, and skips names starting with `.` or `__`
# as internal: such a prefix would make the outbox silently never cross (see `topic_prefix_error`).
_TOPIC_PREFIX = re.compile(r"([A-Za-z0-9_-]+\.)*")
TOPIC_PREFIX_MAX = 100  # as the node's `kafka.topic_prefix`
# How often MirrorMaker 2 lists each source cluster's topics to find new ones matching a flow.
# Production creates its outboxes up front, so this only bounds how soon a new outbox (a new peer,
# a changed prefix) starts crossing; the development stack, where every test makes its own outbox,
# passes a shorter interval (svyaz.stack.services, docs/federation.md).
REFRESH_TOPICS_INTERVAL_S = 10
CLI_HEADER = "# Written by `svyaz federation mm2-config`; regenerate it rather than edit it."


def outbox_topic(peer: str, topic_prefix: str = "") -> str:
    """The topic a region writes the events bound for `peer` to."""
    return f"{topic_prefix}{OUTBOX_PREFIX}{peer}"


def mirrored_topic(source: str, peer: str, topic_prefix: str = "") -> str:
    """What `<prefix>outbox.<peer>` of `source` is called once it has arrived in peer's cluster."""
    return f"{source}.{outbox_topic(peer, topic_prefix)}"


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


def topic_prefix_error(prefix: object) -> str | None:
    """Why `prefix` cannot be the nodes' topic prefix in front of `outbox.<peer>`, or None if it can."""
    if not isinstance(prefix, str) or len(prefix) > TOPIC_PREFIX_MAX or not _TOPIC_PREFIX.fullmatch(prefix):
        return (f"expected letters, digits, '_', '-' and '.', ending with '.' (or empty), "
                f"at most {TOPIC_PREFIX_MAX} characters, got {str(prefix)[:80]!r}")
    if prefix.startswith("__"):
        return f"{prefix!r} starts with '__': MirrorMaker 2 takes such topics for internal ones and never mirrors them"
    first = prefix.split(".", 1)[0]
    if first in KNOWN_REGIONS:
        return (f"{prefix!r} starts with the region name {first!r}: MirrorMaker 2 would take "
                f"{outbox_topic('kz', prefix)!r} for a topic mirrored from {first}")
    return None


def properties(bootstrap: Mapping[str, str], *, header: str = CLI_HEADER, replication_factor: int = 1,
               topic_prefix: str = "", prefix_pattern: str | None = None,
               refresh_topics_interval_s: int = REFRESH_TOPICS_INTERVAL_S) -> str:
    """mm2.properties for the regions in `bootstrap` (region -> Kafka bootstrap servers), in its
    order. Replication factor 1 suits one broker per region (development); use 3 in production.

    Each flow `a->b` carries `<topic_prefix>outbox.b`, the prefix taken literally. The development
    stack passes `prefix_pattern` instead: a regex for the prefixes it carries (its tests' own),
    put unescaped in front of `outbox\\.b`; it must match the empty prefix or whole prefixes only.
    """
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
    prefix_regex = _prefix_regex(topic_prefix, prefix_pattern)
    if (isinstance(refresh_topics_interval_s, bool) or not isinstance(refresh_topics_interval_s, int)
            or refresh_topics_interval_s < 1):
        raise FederationConfigError(
            f"topic refresh interval: expected a whole number of seconds >= 1, got {refresh_topics_interval_s!r}")
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
            # No loss, and no duplicate or reordering from a retried send (Connect's producer is
            # otherwise not idempotent); MirrorMaker 2 stays at least once across a crash.
            f"{region}.producer.acks = all",
            f"{region}.producer.enable.idempotence = true",
            # Source offsets committed every 5 s instead of Connect's 60: after a crash at most the
            # last ~5 s of records cross twice (the ledger drops them; docs/federation.md).
            f"{region}.offset.flush.interval.ms = 5000",
            # The consumer reading a source must not create topics: it would bring back an outbox
            # deleted under it (with one partition), which would then cross again.
            f"{region}.consumer.allow.auto.create.topics = false",
            f"{region}.plugin.discovery = service_load",
            # A worker that lost its group while this cluster was away (over a minute) rejoins as a
            # new member, and Connect would keep its connector and task unassigned for 5 min
            # (the default) waiting for the old member: the flow copies nothing meanwhile. A flow
            # runs one worker here, so there is nobody to wait for. Read per cluster only.
            f"{region}.scheduled.rebalance.max.delay.ms = 0",
        ]
    for source, target in flows(regions):
        lines += [
            f"{source}->{target}.enabled = true",
            f"{source}->{target}.topics = {prefix_regex}{re.escape(outbox_topic(target))}",
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
        # Else MirrorMaker 2 mirrors every `heartbeats` topic whatever the allow-list says.
        "heartbeats.replication.enabled = false",
        "emit.checkpoints.enabled = false",
        "sync.group.offsets.enabled = false",
        "sync.topic.acls.enabled = false",
        "sync.topic.configs.enabled = false",
        f"refresh.topics.interval.seconds = {refresh_topics_interval_s}",
        "",
    ]
    return "\n".join(lines)


def _prefix_regex(topic_prefix: str, prefix_pattern: str | None) -> str:
    if prefix_pattern is None:
        problem = topic_prefix_error(topic_prefix)
        if problem:
            raise FederationConfigError(f"topic prefix: {problem}")
        return re.escape(topic_prefix)
    if topic_prefix:
        raise FederationConfigError("topic prefix: give a prefix or a prefix pattern, not both")
    # MirrorMaker 2 splits a flow's `topics` at commas, and the value must stay on its line.
    if not isinstance(prefix_pattern, str) or re.search(r"[,\s]", prefix_pattern):
        raise FederationConfigError(f"prefix pattern: no commas or white space, got {str(prefix_pattern)[:80]!r}")
    try:
        re.compile(prefix_pattern)
    except re.error as err:
        raise FederationConfigError(f"prefix pattern: not a regex ({err})") from err
    return prefix_pattern
