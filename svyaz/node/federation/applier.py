"""Applying verified federation events to this node (the inbound consumer's `Applier`): changes to
private chats and blocks here; changes to groups and channels (`SharedChatApplier`) and questions
between nodes (`Question`: directory lookups, key claims) through their own services. The
envelope's signature, order and novelty are checked before this is called; here the payload is
read strictly (`wire`) and applied, each change idempotent by the envelope's id, which becomes the
id of the local event clients receive."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from svyaz.federation.errors import NotPermitted
from svyaz.federation.trust import VerifiedEvent
from svyaz.messaging.arrivals import PrivateArrivals
from svyaz.messaging.ids import private_participants
from svyaz.messaging.ports import AccountDirectory, BlockStore
from svyaz.node.federation import wire
from svyaz.node.federation.shared_applier import SharedChatApplier


class Question(Protocol):
    """Kinds asked and answered between nodes (`directory`, `prekeys_remote`)."""

    def handles(self, kind: str) -> bool: ...

    async def apply(self, *, origin: str, stream: str, kind: str, payload: Mapping[str, Any]) -> None: ...


class FederationApplier:
    def __init__(self, *, region: str, arrivals: PrivateArrivals, directory: AccountDirectory,
                 blocks: BlockStore, groups: SharedChatApplier | None = None,
                 questions: Sequence[Question] = ()) -> None:
        """`questions`: the services answering other nodes' questions (directory lookups, key
        claims) and handing over their answers to this node's."""
        self._region = region
        self._arrivals = arrivals
        self._directory = directory
        self._blocks = blocks
        self._groups = groups
        self._questions = tuple(questions)

    async def apply(self, event: VerifiedEvent) -> None:
        if self._groups is not None and self._groups.handles(event):
            await self._groups.apply(event)
        elif (question := next((q for q in self._questions if q.handles(event.kind)), None)) is not None:
            await question.apply(origin=event.origin, stream=event.stream, kind=event.kind, payload=event.payload)
        elif event.kind in (wire.BLOCK_ADDED, wire.BLOCK_REMOVED):
            await self._block(event)
        else:
            await self._private_chat(event)

    async def _block(self, event: VerifiedEvent) -> None:
        change = wire.read_block(origin=event.origin, local_region=self._region, stream=event.stream,
                                 kind=event.kind, payload=event.payload)
        if change.blocking:
            await self._blocks.add(change.blocker, change.blocked, event.envelope.created_at / 1000)
        else:
            await self._blocks.remove(change.blocker, change.blocked)

    async def _private_chat(self, event: VerifiedEvent) -> None:
        arrival = wire.read(origin=event.origin, local_region=self._region, stream=event.stream, kind=event.kind,
                            payload=event.payload, created_at_ms=event.envelope.created_at)
        if arrival.kind == wire.MESSAGE_CREATED:
            assert arrival.message is not None
            await self._check_local_participant(arrival.chat, arrival.actor)
            await self._arrivals.message(event.origin, arrival.message, event_id=event.id)
        elif arrival.kind == wire.MESSAGE_EDITED:
            await self._arrivals.edit(event.origin, arrival.chat, arrival.ref, text=arrival.text,
                                      edited_at=arrival.at, event_id=event.id)
        elif arrival.kind == wire.MESSAGE_DELETED:
            await self._arrivals.delete(event.origin, arrival.chat, arrival.ref, event_id=event.id)
        else:
            kind = "read" if arrival.kind == wire.RECEIPT_READ else "delivered"
            await self._arrivals.receipt(event.origin, arrival.chat, arrival.actor, kind, arrival.ref,
                                         at=arrival.at, event_id=event.id)

    async def _check_local_participant(self, chat: str, sender: str) -> None:
        """A message starts a chat here only with an account that exists here (`wire.read` has
        made sure the participant other than the sender lives in this region)."""
        (recipient,) = (account for account in private_participants(chat) if account != sender)
        if not await self._directory.exists(recipient):
            raise NotPermitted(f"there is no account {recipient} in {self._region}")
