"""The node's messaging, composed: private chats over the private-message bulkhead and the chat
list, events on Kafka, the chat-list projector and the live-delivery feed of the gateway.

`open_messaging` opens the adapters without waiting for their servers; `Messaging.run` is what the
node's nursery runs: index creation (retried until the store answers), the projector (its consumer
group `<topic_prefix>projector`), and the gateway's feed (a private group at the topic's end).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import trio
from confluent_kafka import KafkaException
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from svyaz.identity.store import IdentityStore
from svyaz.messaging.bus import ensure_topic, open_event_publisher, open_event_stream, private_events_topic
from svyaz.messaging.errors import StoreUnavailable
from svyaz.messaging.projector import serve_projector
from svyaz.messaging.ratelimit import RateLimiter
from svyaz.messaging.service import PrivateChats
from svyaz.messaging.store import MongoChatListStore, MongoMessageStore
from svyaz.node.config import NodeConfig
from svyaz.node.delivery import LocalDelivery

logger = logging.getLogger("svyaz.node.messaging")
_RETRY_S = 2.0


class IdentityDirectory:
    """The messaging `AccountDirectory` port: an account exists if identity holds it."""

    def __init__(self, store: IdentityStore, limiter: trio.CapacityLimiter) -> None:
        self._store = store
        self._limiter = limiter

    async def exists(self, account: str) -> bool:
        record = await trio.to_thread.run_sync(self._store.get_account, account, limiter=self._limiter)
        return record is not None


@dataclass(frozen=True)
class Messaging:
    chats: PrivateChats
    delivery: LocalDelivery
    config: NodeConfig
    messages: MongoMessageStore
    chat_list: MongoChatListStore

    async def run(self) -> None:
        kafka = self.config.kafka
        topic = private_events_topic(kafka.topic_prefix)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._keep_indexes)
            await self._ensure_topic(topic)
            async with (
                open_event_stream(kafka.bootstrap_servers, topic, group_id=f"{kafka.topic_prefix}projector",
                                  client_id=f"{self.config.node.id}-projector") as projected,
                open_event_stream(kafka.bootstrap_servers, topic,
                                  client_id=f"{self.config.node.id}-delivery") as live,
            ):
                nursery.start_soon(serve_projector, projected, self.chat_list)
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

    async def _keep_indexes(self) -> None:
        while True:
            try:
                for store in (self.messages, self.chat_list):
                    await trio.to_thread.run_sync(store.ensure_indexes, abandon_on_cancel=True)
                return
            except (StoreUnavailable, PyMongoError) as err:
                logger.warning("message store indexes not created yet; retrying", extra={"error": str(err)})
                await trio.sleep(_RETRY_S)


@asynccontextmanager
async def open_messaging(config: NodeConfig, client: MongoClient, identity_store: IdentityStore,
                         limiter: trio.CapacityLimiter) -> AsyncIterator[Messaging]:
    prefix, kafka = config.store.database_prefix, config.kafka
    messages = MongoMessageStore(client[f"{prefix}_private"], limiter)
    chat_list = MongoChatListStore(client[f"{prefix}_chatlist"], limiter)
    async with open_event_publisher(kafka.bootstrap_servers, private_events_topic(kafka.topic_prefix),
                                    client_id=f"{config.node.id}-messages",
                                    timeout_s=max(kafka.timeout_s, 5.0)) as publisher:
        send_limit = RateLimiter(rate_per_s=config.messaging.send_rate_per_s, burst=config.messaging.send_burst,
                                 clock=time.monotonic)
        chats = PrivateChats(region=config.region, messages=messages, chat_list=chat_list, publisher=publisher,
                             directory=IdentityDirectory(identity_store, limiter), send_limit=send_limit)
        yield Messaging(chats=chats, delivery=LocalDelivery(), config=config, messages=messages,
                        chat_list=chat_list)
