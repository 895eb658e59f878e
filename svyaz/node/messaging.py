"""The node's messaging, composed: private chats, groups and channels over their three bulkhead
databases and the chat list, events on Kafka (a topic per bulkhead), the chat-list projector, the
offline notifier (development pushes go to `<node.data_dir>/pushes.jsonl`) and the live-delivery
feed of the gateway.

`open_messaging` opens the adapters without waiting for their servers; `Messaging.run` is what the
node's nursery runs: index creation (retried until the store answers), the projector (its consumer
group `<topic_prefix>projector`), and the gateway's feed (a private group at the topic's end).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import trio
from confluent_kafka import KafkaException
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from svyaz.identity.store import IdentityStore
from svyaz.messaging.arrivals import PrivateArrivals
from svyaz.messaging.bus import (
    ensure_topic,
    event_topics,
    open_event_publisher,
    open_event_stream,
    private_events_topic,
)
from svyaz.messaging.at_rest import AtRest
from svyaz.messaging.channels import Channels
from svyaz.messaging.groups import GroupChats
from svyaz.messaging.ids import CHANNEL, GROUP
from svyaz.messaging.moderation import BlockRelay, MessageReader, Moderation, Presence
from svyaz.messaging.overview import ChatOverview
from svyaz.messaging.writer import SequencedWriter
from svyaz.messaging.prekey_store import MongoPrekeys
from svyaz.messaging.prekeys import PrekeyDirectory, RemotePrekeys
from svyaz.node.secret_policy import load_secret_policy
from svyaz.messaging.errors import StoreUnavailable
from svyaz.messaging.projector import serve_projector
from svyaz.messaging.ports import AccountDirectory, EventPublisher, HomeNode
from svyaz.messaging.ratelimit import RateLimiter
from svyaz.messaging.service import PrivateChats
from svyaz.messaging.notifier import FilePushSender, Notifier
from svyaz.messaging.safety_store import MongoBlocks, MongoPresence, MongoPushLedger, MongoReports
from svyaz.messaging.store import MongoChatListStore, MongoMemberships, MongoMessageStore
from svyaz.node.config import NodeConfig
from svyaz.node.content_keys import ContentKeyRing, key_dir
from svyaz.node.delivery import LocalDelivery
from svyaz.node.presence_recorder import PresenceRecorder
from svyaz.node.errors import DependencyUnavailable

logger = logging.getLogger("svyaz.node.messaging")
_RETRY_S = 2.0


KNOWN_ACCOUNTS = 100_000


class AccountsHereAndAbroad:
    """`AccountDirectory` over this region's accounts and, through federation, its peers'."""

    def __init__(self, region: str, here: AccountDirectory, abroad: AccountDirectory) -> None:
        self._region = region
        self._here = here
        self._abroad = abroad

    async def exists(self, account: str) -> bool:
        directory = self._here if account.rpartition(":")[2] == self._region else self._abroad
        return await directory.exists(account)


class IdentityDirectory:
    """What messaging asks identity: does an account exist (`AccountDirectory`), what is it called,
    and who may see its presence (its profile's setting)."""

    def __init__(self, store: IdentityStore, limiter: trio.CapacityLimiter) -> None:
        self._store = store
        self._limiter = limiter
        # Accounts are never deleted, so one that exists is remembered (a bounded set, oldest
        # forgotten first): most sends go to someone written to before, and skip this read.
        self._known: OrderedDict[str, None] = OrderedDict()

    async def exists(self, account: str) -> bool:
        if account in self._known:
            self._known.move_to_end(account)
            return True
        record = await trio.to_thread.run_sync(self._store.get_account, account, limiter=self._limiter)
        if record is not None:
            self._known[account] = None
            if len(self._known) > KNOWN_ACCOUNTS:
                self._known.popitem(last=False)
        return record is not None

    async def devices_of(self, account: str) -> list[str]:
        """The account's devices: its sessions still in use."""
        sessions = await trio.to_thread.run_sync(self._store.list_sessions, account, limiter=self._limiter)
        now = time.time()
        return [session.session_id for session in sessions if session.is_active(now)]

    async def lookup(self, account: str) -> tuple[bool, str]:
        """(whether `account` exists here, its display name): what anyone signed in may learn of it."""
        if not await self.exists(account):
            return False, ""
        profile = await trio.to_thread.run_sync(self._store.get_profile, account, limiter=self._limiter)
        return True, profile.display_name

    async def presence_audience(self, account: str) -> str:
        profile = await trio.to_thread.run_sync(self._store.get_profile, account, limiter=self._limiter)
        return profile.presence


@dataclass(frozen=True)
class Messaging:
    chats: PrivateChats
    groups: GroupChats
    channels: Channels
    overview: ChatOverview
    moderation: Moderation
    presence: Presence
    prekeys: PrekeyDirectory
    notifier: Notifier
    presence_store: MongoPresence
    presence_recorder: PresenceRecorder
    delivery: LocalDelivery
    config: NodeConfig
    chat_list: MongoChatListStore
    # What federation applies peers' events to (svyaz/node/federation).
    arrivals: PrivateArrivals
    private_messages: MongoMessageStore
    directory: IdentityDirectory
    blocks: MongoBlocks
    group_members: MongoMemberships
    group_messages: MongoMessageStore
    channel_members: MongoMemberships
    channel_messages: MongoMessageStore
    publisher: EventPublisher
    indexed: tuple[MongoChatListStore | MongoMessageStore | MongoMemberships | MongoBlocks | MongoReports, ...]
    # Set once the gateway's live feed sits at the end of every event topic: before that, events
    # would pass this gateway by, so the node reports itself not ready (`FeedProbe`).
    feed_ready: trio.Event = field(default_factory=trio.Event)

    async def run(self) -> None:
        kafka = self.config.kafka
        topics = sorted(set(event_topics(kafka.topic_prefix).values()))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._keep_indexes)
            nursery.start_soon(self._beat_presence)
            await nursery.start(self.presence_recorder.run)
            for topic in topics:
                await self._ensure_topic(topic)
            async with (
                open_event_stream(kafka.bootstrap_servers, private_events_topic(kafka.topic_prefix),
                                  group_id=f"{kafka.topic_prefix}projector",
                                  client_id=f"{self.config.node.id}-projector") as projected,
                open_event_stream(kafka.bootstrap_servers, topics,
                                  client_id=f"{self.config.node.id}-delivery") as live,
                open_event_stream(kafka.bootstrap_servers, topics,
                                  group_id=f"{kafka.topic_prefix}notifier",
                                  client_id=f"{self.config.node.id}-notifier") as offline,
            ):
                self.feed_ready.set()
                nursery.start_soon(partial(serve_projector, projected, self.chat_list, region=self.config.region))
                nursery.start_soon(self.notifier.serve, offline)
                nursery.start_soon(self.delivery.serve, live)
                await trio.sleep_forever()

    async def _ensure_topic(self, topic: str) -> None:
        while True:
            try:
                await trio.to_thread.run_sync(ensure_topic, self.config.kafka.bootstrap_servers, topic,
                                              abandon_on_cancel=True)
                return
            except KafkaException as err:
                logger.warning("event topic not created yet; retrying", extra={"topic": topic, "error": str(err)})
                await trio.sleep(_RETRY_S)

    async def _beat_presence(self) -> None:
        """Keep this gateway counted among the live ones (presence of its connections)."""
        while True:
            try:
                await self.presence_store.beat()
            except (StoreUnavailable, PyMongoError) as err:
                logger.warning("presence heartbeat not recorded", extra={"error": str(err)})
            await trio.sleep(self.presence_store.liveness_s / 3)

    async def _keep_indexes(self) -> None:
        while True:
            try:
                for store in self.indexed:
                    await trio.to_thread.run_sync(store.ensure_indexes, abandon_on_cancel=True)
                return
            except (StoreUnavailable, PyMongoError) as err:
                logger.warning("message store indexes not created yet; retrying", extra={"error": str(err)})
                await trio.sleep(_RETRY_S)


class FeedProbe:
    """The readiness `Probe` of live delivery: ready once the feed is positioned."""

    def __init__(self, messaging: Messaging) -> None:
        self._messaging = messaging

    async def check(self) -> None:
        if not self._messaging.feed_ready.is_set():
            raise DependencyUnavailable("the live delivery feed is not positioned on the event topics yet")


def content_at_rest(config: NodeConfig) -> AtRest:
    """Content sealed with the node's key ring (created on first start) when store.encrypt_content
    is on; when off, new content is stored in clear and an existing ring still opens older content."""
    directory = key_dir(config.data_path)
    if config.store.encrypt_content:
        ring = ContentKeyRing.create_if_missing(directory)
    elif directory.exists():
        ring = ContentKeyRing.existing(directory)
    else:
        return AtRest(None)
    ring.current_key_id()  # a ring that does not load stops the start, naming the problem
    return AtRest(ring, seal_new=config.store.encrypt_content)


@asynccontextmanager
async def open_messaging(config: NodeConfig, client: MongoClient, identity_store: IdentityStore,
                         limiter: trio.CapacityLimiter, *, peers: frozenset[str] = frozenset(),
                         block_relay: BlockRelay | None = None, home: HomeNode | None = None,
                         remote_accounts: AccountDirectory | None = None,
                         remote_prekeys: RemotePrekeys | None = None) -> AsyncIterator[Messaging]:
    """`peers`: the regions this node federates with (none: conversations stay in the region);
    `block_relay` tells their nodes of blocks of their accounts; `home` runs changes to groups and
    channels homed there; `remote_accounts` says whether their accounts exist; `remote_prekeys`
    claims their secret-chat keys."""
    prefix, kafka = config.store.database_prefix, config.kafka
    at_rest = await trio.to_thread.run_sync(content_at_rest, config)
    chat_list_db = client[f"{prefix}_chatlist"]
    private = MongoMessageStore(client[f"{prefix}_private"], limiter, at_rest=at_rest)
    group_messages = MongoMessageStore(client[f"{prefix}_groups"], limiter, at_rest=at_rest)
    channel_messages = MongoMessageStore(client[f"{prefix}_channels"], limiter, at_rest=at_rest)
    chat_list = MongoChatListStore(chat_list_db, limiter, at_rest=at_rest)
    group_members = MongoMemberships(client[f"{prefix}_groups"], chat_list_db, limiter)
    channel_members = MongoMemberships(client[f"{prefix}_channels"], chat_list_db, limiter)
    directory = IdentityDirectory(identity_store, limiter)
    accounts = directory if remote_accounts is None else AccountsHereAndAbroad(config.region, directory, remote_accounts)
    blocks = MongoBlocks(client[f"{prefix}_core"], limiter)
    presence_store = MongoPresence(client[f"{prefix}_core"], limiter, gateway=config.node.id)
    reports = MongoReports(client[f"{prefix}_moderation"], limiter, at_rest=at_rest)
    async with open_event_publisher(kafka.bootstrap_servers, event_topics(kafka.topic_prefix),
                                    client_id=f"{config.node.id}-messages",
                                    timeout_s=max(kafka.timeout_s, 5.0)) as publisher:
        send_limit = RateLimiter(rate_per_s=config.messaging.send_rate_per_s, burst=config.messaging.send_burst,
                                 clock=time.monotonic)
        secret_policy = await trio.to_thread.run_sync(load_secret_policy, Path(config.rbac.policy_dir), config.region)
        private_writer = SequencedWriter(private)
        chats = PrivateChats(region=config.region, messages=private, chat_list=chat_list, publisher=publisher,
                             directory=accounts, send_limit=send_limit, blocks=blocks, secret_policy=secret_policy,
                             peers=peers, writer=private_writer)
        arrivals = PrivateArrivals(region=config.region, messages=private, chat_list=chat_list, publisher=publisher,
                                   writer=private_writer, blocks=blocks)
        groups = GroupChats(region=config.region, writer=SequencedWriter(group_messages), memberships=group_members,
                            publisher=publisher, directory=accounts, send_limit=send_limit, secret_policy=secret_policy,
                            peers=peers, home=home)
        channels = Channels(region=config.region, writer=SequencedWriter(channel_messages),
                            memberships=channel_members, publisher=publisher, send_limit=send_limit,
                            peers=peers, home=home)
        overview = ChatOverview(chats, {GROUP: (group_members, group_messages),
                                        CHANNEL: (channel_members, channel_messages)}, index=group_members)
        moderation = Moderation(blocks=blocks, reports=reports, read_one=MessageReader(chats, groups, channels),
                                relay=block_relay)
        prekeys = PrekeyDirectory(region=config.region, store=MongoPrekeys(client[f"{prefix}_core"], limiter),
                                  directory=accounts, blocks=blocks, claim_limit=send_limit, policy=secret_policy,
                                  peers=peers, remote=remote_prekeys)
        presence = Presence(store=presence_store, blocks=blocks, audience=directory.presence_audience,
                            chat_list=chat_list)
        recorder = PresenceRecorder(presence_store)
        delivery = LocalDelivery(group_members.chats_of, on_arrival=recorder.arrived, on_departure=recorder.left)

        async def members_of(group: str, limit: int) -> list[str]:
            return [account for account, _role in await group_members.members(group, limit=limit)]

        notifier = Notifier(presence=presence_store, devices_of=directory.devices_of, members_of=members_of,
                            group_size=group_members.count,
                            group_push_limit=config.messaging.group_push_limit,
                            ledger=MongoPushLedger(client[f"{prefix}_notifications"], limiter),
                            sender=FilePushSender(config.data_path / "pushes.jsonl"))
        yield Messaging(chats=chats, groups=groups, channels=channels, overview=overview, moderation=moderation,
                        presence=presence, prekeys=prekeys, notifier=notifier, presence_store=presence_store,
                        presence_recorder=recorder, delivery=delivery,
                        config=config, chat_list=chat_list, arrivals=arrivals, private_messages=private,
                        directory=directory, blocks=blocks, group_members=group_members,
                        group_messages=group_messages, channel_members=channel_members,
                        channel_messages=channel_messages, publisher=publisher,
                        indexed=(chat_list, private, group_messages, channel_messages, group_members,
                                 channel_members, blocks, reports))
