"""A regional node's federation, composed: its key, the outbox to its peers, the forwarder of local
changes, the inbound consumer of the peers' events and what it applies them to.

`open_outbox_for` opens the outbox before messaging (private chats need to know the peers, and blocks
of accounts abroad are told through it); `Federation` is built once messaging is, and its `run` is
what the node's nursery runs. Everything here is absent when `federation.enabled` is false: the
node then refuses conversations with other regions (`foreign_region`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import trio
from pymongo import MongoClient

from svyaz.compliance.audit.event import AuditSink
from svyaz.federation.envelope import new_event_id, now_ms
from svyaz.federation.ledger import InboundLedger
from svyaz.messaging.bus import event_topics, open_event_stream
from svyaz.messaging.shared_replica import SharedChatReplica
from svyaz.messaging.moderation import BlockRelay
from svyaz.node.config import NodeConfig
from svyaz.node.federation import wire
from svyaz.node.federation.applier import FederationApplier
from svyaz.node.federation.commands import FederatedHome, Requests
from svyaz.node.federation.directory import DirectoryApplier, RemoteDirectory
from svyaz.node.federation.prekeys_remote import PrekeyClaimApplier, RemotePrekeys
from svyaz.node.federation.forwarder import Forwarder
from svyaz.node.federation.shared_applier import SharedChatApplier
from svyaz.node.federation.shared_routes import SharedChatRoutes
from svyaz.node.federation.inbound import InboundConsumer, InboundMonitor, audit_refusals
from svyaz.node.federation.keys import federation_signer
from svyaz.node.federation.ledger_store import MongoLedgerStore, federation_database
from svyaz.node.federation.outbox import Outbox, open_outbox
from svyaz.node.messaging import Messaging
from svyaz.node.metrics import NodeMetrics

logger = logging.getLogger("svyaz.node.federation")


@asynccontextmanager
async def open_outbox_for(config: NodeConfig, client: MongoClient,
                          limiter: trio.CapacityLimiter) -> AsyncIterator[Outbox | None]:
    """The node's outbox, or None when federation is off. Creates the federation key on first start."""
    if not config.federation.enabled:
        yield None
        return
    signer = await trio.to_thread.run_sync(federation_signer, config)
    logger.info("federation key loaded", extra={"key_id": signer.key_id})
    async with open_outbox(signer=signer, peers=config.federation.peers, limiter=limiter,
                           database=client[federation_database(config.store.database_prefix)],
                           bootstrap_servers=config.kafka.bootstrap_servers, topic_prefix=config.kafka.topic_prefix,
                           client_id=f"{config.node.id}-outbox",
                           send_timeout_s=config.federation.send_timeout_s) as outbox:
        yield outbox


def block_relay(outbox: Outbox) -> BlockRelay:
    """Tells the node of a blocked account abroad that it is (no longer) blocked by one of ours."""

    async def relay(blocker: str, blocked: str, blocking: bool) -> None:
        region = blocked.rpartition(":")[2]
        if region not in outbox.peers:
            return  # no conversation with that region is possible: nothing to refuse there
        stream, kind, payload = wire.block_event(blocker, blocked, blocking)
        await outbox.send(destination=region, stream=stream, kind=kind, payload=payload, event_id=new_event_id(),
                          created_at_ms=now_ms())

    return relay


@dataclass(frozen=True)
class Asking:
    """What this node asks other regions' nodes, and waits for: changes to groups and channels
    homed there, and lookups of their accounts. All None without federation."""

    peers: frozenset[str] = frozenset()
    requests: Requests | None = None
    home: FederatedHome | None = None
    directory: RemoteDirectory | None = None
    prekeys: RemotePrekeys | None = None

    @classmethod
    def through(cls, outbox: Outbox | None, *, wait_s: float) -> Asking:
        if outbox is None:
            return cls()
        requests = Requests(outbox, wait_s=wait_s)
        return cls(peers=outbox.peers, requests=requests, home=FederatedHome(requests),
                   directory=RemoteDirectory(requests), prekeys=RemotePrekeys(requests))


@dataclass(frozen=True)
class Federation:
    config: NodeConfig
    outbox: Outbox
    forwarder: Forwarder
    inbound: InboundConsumer
    monitor: InboundMonitor
    messaging: Messaging

    async def run(self) -> None:
        kafka = self.config.kafka
        # The forwarder reads the event topics, which messaging creates: it starts once they exist.
        await self.messaging.feed_ready.wait()
        async with (
            open_event_stream(kafka.bootstrap_servers, _forwarded_topics(kafka.topic_prefix),
                              group_id=f"{kafka.topic_prefix}federation.forwarder",
                              client_id=f"{self.config.node.id}-forwarder") as local_events,
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(self.forwarder.serve, local_events)
            nursery.start_soon(self.inbound.run)


def _forwarded_topics(prefix: str) -> list[str]:
    """The event topics whose changes may concern other regions: all of them (typing aside)."""
    return sorted(set(event_topics(prefix).values()))


def build_federation(config: NodeConfig, client: MongoClient, limiter: trio.CapacityLimiter, *, outbox: Outbox,
                     asking: Asking, messaging: Messaging, audit: AuditSink,
                     metrics: NodeMetrics | None) -> Federation:
    prefix, kafka = config.store.database_prefix, config.kafka
    assert config.federation.peer_keys is not None, "load_config loads the pinned keys when federation is on"
    monitor = InboundMonitor(metrics)
    groups = SharedChatApplier(
        region=config.region, groups=messaging.groups, channels=messaging.channels, requests=asking.requests,
        outbox=outbox,
        group_copies=SharedChatReplica(memberships=messaging.group_members, messages=messaging.group_messages,
                                       publisher=messaging.publisher),
        channel_copies=SharedChatReplica(memberships=messaging.channel_members, messages=messaging.channel_messages,
                                         publisher=messaging.publisher))
    questions = (
        DirectoryApplier(region=config.region, local_lookup=messaging.directory.lookup, requests=asking.requests,
                         outbox=outbox),
        PrekeyClaimApplier(region=config.region, prekeys=messaging.prekeys, requests=asking.requests, outbox=outbox),
    )
    applier = FederationApplier(region=config.region, arrivals=messaging.arrivals, directory=messaging.directory,
                                blocks=messaging.blocks, groups=groups, questions=questions)
    inbound = InboundConsumer(
        peer_keys=config.federation.peer_keys, bootstrap_servers=kafka.bootstrap_servers,
        topic_prefix=kafka.topic_prefix,
        ledger=InboundLedger(MongoLedgerStore(client[federation_database(prefix)], limiter),
                             max_ahead=config.federation.max_ahead),
        applier=applier, audit_refusal=audit_refusals(audit, config.region), observer=monitor,
        client_id=f"{config.node.id}-inbound")
    forwarder = Forwarder(region=config.region, peers=outbox.peers, outbox=outbox,
                          private_messages=messaging.private_messages,
                          shared=SharedChatRoutes(region=config.region, groups=messaging.group_members,
                                                  channels=messaging.channel_members))
    return Federation(config=config, outbox=outbox, forwarder=forwarder, inbound=inbound, monitor=monitor, messaging=messaging)
