"""The federation forwarder: local changes to conversations shared with other regions, sent on to
their nodes through `outbox.<peer>`.

It reads the node's own event topics as one more consumer group (`<topic_prefix>federation.forwarder`),
so it forwards exactly what was stored and acknowledged here, and a crash re-reads from the last
committed offset: the outbox gives a re-sent event its first number again, and the receiver's
ledger ignores the copy. Partitions are forwarded in parallel, one lane each (`lanes.serve_in_lanes`),
each in its own order: a chat is one partition, and a chat's order is all the receiver keeps (the
outbox numbers per chat, the ledger orders per chat). An event waiting for Kafka or the store holds
its partition only; other chats go on until its lane's buffer is full. An event goes only to the
regions that store its conversation (`svyaz.federation.residency`); a conversation of this region
alone sends nothing anywhere. Events that arrived from a peer (`Event.origin`) are never sent on.

What crosses is the wire form of `svyaz.node.federation.wire`: messages are named by sender and
client id, because each node numbers a chat's messages itself.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

import trio

from svyaz.errors import SvyazError
from svyaz.federation.residency import private_route
from svyaz.messaging.bus import EventStream, Received
from svyaz.messaging.errors import NotPublished, StoreUnavailable
from svyaz.messaging.events import Event
from svyaz.messaging.ids import is_private, private_participants
from svyaz.messaging.ports import MessageStore
from svyaz.node.federation import wire, wire_shared
from svyaz.node.federation.lanes import serve_in_lanes
from svyaz.node.federation.shared_routes import SharedChatRoutes

logger = logging.getLogger("svyaz.node.federation.forwarder")
_RETRY_FIRST_S = 0.2
_RETRY_MAX_S = 5.0
_LANE_BUFFER = 64  # events read ahead per partition


class Outbox(Protocol):
    async def send(self, *, destination: str, stream: str, kind: str, payload: Mapping[str, Any],
                   event_id: str, created_at_ms: int) -> int: ...


class Forwarder:
    def __init__(self, *, region: str, peers: frozenset[str], outbox: Outbox, private_messages: MessageStore,
                 shared: SharedChatRoutes | None = None,
                 transient: tuple[type[BaseException], ...] = (NotPublished, StoreUnavailable)) -> None:
        """`transient`: failures retried until they pass (Kafka or the store away); anything
        else about one event is logged and the event skipped, so one bad event never stops the rest."""
        self._region = region
        self._peers = peers
        self._outbox = outbox
        self._messages = private_messages
        self._shared = shared
        self._transient = transient

    async def serve(self, stream: EventStream[Received], *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Forward every event of `stream`, in parallel per partition, each marked done once sent."""
        task_status.started()
        await serve_in_lanes(stream, self._forward_record, buffer=_LANE_BUFFER)

    async def _forward_record(self, record: Received) -> None:
        await self.forward(record.event)

    async def forward(self, event: Event) -> None:
        """Send `event` to every peer storing its conversation, each acknowledged by Kafka."""
        if event.origin:
            return
        delay = _RETRY_FIRST_S
        while True:
            try:
                plan = await self._plan(event)
                if plan is None:
                    return
                destinations, kind, payload = plan
                for destination in destinations:
                    await self._outbox.send(destination=destination, stream=event.chat, kind=kind, payload=payload,
                                            event_id=event.id, created_at_ms=int(event.at * 1000))
                return
            except self._transient as err:
                # Planning again is harmless: a route is worked out once per event (`shared_routes`),
                # and a destination already sent to gets the same numbered record again.
                logger.warning("federation event not sent yet; retrying",
                               extra={"chat": event.chat[:80], "event_id": event.id, "error": str(err)})
                await trio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX_S)
            except SvyazError as err:
                logger.error("federation event skipped", extra={"chat": event.chat[:80], "event_id": event.id,
                                                                "error": str(err)})
                return

    async def _plan(self, event: Event) -> tuple[tuple[str, ...], str, dict] | None:
        """(destinations, kind, payload) of what leaves for `event`; None if nothing does."""
        if is_private(event.chat):
            if event.kind not in wire.FORWARDED:
                return None
            destinations = self._private_destinations(event)
            if not destinations:
                return None
            kind, payload = await wire.from_event(event, self._messages)
            return destinations, kind, payload
        audience = self._shared.audience_of(event.chat) if self._shared is not None else None
        if audience is not None and event.kind in wire_shared.FORWARDED:
            route = await self._shared.route(event, audience)
            destinations = tuple(sorted(route.regions & self._peers))
            if not destinations:
                return None
            payload = wire_shared.from_event(event, await self._shared.info(audience), members=route.members)
            return destinations, event.kind, payload
        return None

    def _private_destinations(self, event: Event) -> tuple[str, ...]:
        try:
            peers = private_route(self._region, *private_participants(event.chat)).peers
        except SvyazError as err:  # not a chat this region stores: nothing of it may leave
            logger.error("event of a chat this region does not store; not sent", extra={
                "chat": event.chat[:80], "error": str(err)})
            return ()
        unconfigured = peers - self._peers
        if unconfigured:
            # Sends to such a region are refused (`foreign_region`); this is an event stored before
            # the federation settings changed. It stays here, and is said so once per event.
            logger.error("conversation with a region this node does not federate with; not sent there",
                         extra={"chat": event.chat[:80], "regions": ",".join(sorted(unconfigured))})
        return tuple(sorted(peers & self._peers))
