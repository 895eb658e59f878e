"""Applying verified federation events about groups and channels: on a member's node, the home's
changes to its copy and the home's replies to its members' commands; on the home node, the
commands of members abroad, each run as a local call and answered."""

from __future__ import annotations

from svyaz.federation.envelope import new_event_id, now_ms
from svyaz.federation.trust import VerifiedEvent
from svyaz.messaging.errors import MessagingError, NotPublished, StoreUnavailable
from svyaz.messaging.shared_commands import run_at_home
from svyaz.messaging.shared_replica import SharedChatReplica
from svyaz.messaging.channels import Channels
from svyaz.messaging.groups import GroupChats
from svyaz.messaging.ids import CHANNEL, COMMENTS, GROUP, chat_kind
from svyaz.node.federation import wire_shared
from svyaz.node.federation.commands import Requests
from svyaz.node.federation.forwarder import Outbox

_TRANSIENT = (StoreUnavailable, NotPublished)


class SharedChatApplier:
    def __init__(self, *, region: str, groups: GroupChats, channels: Channels, group_copies: SharedChatReplica,
                 channel_copies: SharedChatReplica, requests: Requests, outbox: Outbox) -> None:
        self._region = region
        self._groups = groups
        self._channels = channels
        self._copies = {GROUP: group_copies, CHANNEL: channel_copies, COMMENTS: channel_copies}
        self._requests = requests
        self._outbox = outbox

    @staticmethod
    def handles(event: VerifiedEvent) -> bool:
        return event.kind in (wire_shared.GROUP_COMMAND, wire_shared.GROUP_REPLY) or (
            event.kind in wire_shared.FORWARDED and event.stream.startswith(("g/", "c/")))

    async def apply(self, event: VerifiedEvent) -> None:
        if event.kind == wire_shared.GROUP_COMMAND:
            await self._command(event)
        elif event.kind == wire_shared.GROUP_REPLY:
            command_id, reply = wire_shared.read_reply(origin=event.origin, stream=event.stream, payload=event.payload)
            self._requests.answered(command_id, reply)
        elif event.kind in wire_shared.MEMBER_KINDS:
            change = wire_shared.read_member_change(origin=event.origin, stream=event.stream, kind=event.kind,
                                                    payload=event.payload)
            await self._copies[chat_kind(event.stream)].member_changed(event.origin, change.info, actor=change.actor, account=change.account,
                                               role=change.role, members=change.members, event_id=event.id)
        else:
            actor, message = wire_shared.read_message(origin=event.origin, stream=event.stream, kind=event.kind,
                                                      payload=event.payload)
            await self._copies[chat_kind(event.stream)].message(event.origin, event.kind, message, actor=actor, event_id=event.id)

    async def _command(self, event: VerifiedEvent) -> None:
        chat, command = wire_shared.read_command(origin=event.origin, local_region=self._region, stream=event.stream,
                                                 payload=event.payload)
        try:
            result = await run_at_home(self._groups, self._channels, chat, command.actor, command.action, command.args)
            answer = wire_shared.reply(command.command_id, result=result)
        except _TRANSIENT:
            raise
        except MessagingError as refusal:
            answer = wire_shared.reply(command.command_id, code=refusal.code, message=str(refusal))
        await self._outbox.send(destination=event.origin, stream=chat, kind=wire_shared.GROUP_REPLY, payload=answer,
                                event_id=new_event_id(), created_at_ms=now_ms())


