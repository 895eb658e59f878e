"""keys.*, secret.send, secret.report, secret.policy: secret chats over the call API.

The node relays what devices seal and never holds a key that opens it: it keeps public prekey
bundles (svyaz.messaging.prekeys) and stores sealed envelopes as private-chat messages, or as
messages of a secret group (`g/...` made with `group.create` and `secret: true`), so history,
receipts, deletion and the chat list work for secret chats as for any other.
A secret report reveals one message to moderators and is written to the audit log like any report.
"""

from __future__ import annotations

from typing import Any

from svyaz.compliance.audit.event import AuditEvent, AuditSink
from svyaz.messaging.content import MAX_SEALED_BYTES, MAX_TEXT_CHARS
from svyaz.messaging.groups import GroupChats
from svyaz.messaging.ids import GROUP_PREFIX
from svyaz.messaging.moderation import Moderation
from svyaz.messaging.prekeys import PrekeyDirectory
from svyaz.messaging.service import PrivateChats
from svyaz.node.api import Call, Handler
from svyaz.node.handlers.args import me, only, optional_text, seq_arg, text
from svyaz.node.handlers.messages import ID_LIMIT, ack

# base64 is 4/3 of the bytes it carries
SEALED_LIMIT = MAX_SEALED_BYTES * 4 // 3 + 4


class SecretChatHandlers:
    def __init__(self, prekeys: PrekeyDirectory, chats: PrivateChats, moderation: Moderation,
                 audit: AuditSink, groups: GroupChats) -> None:
        self._prekeys = prekeys
        self._chats = chats
        self._moderation = moderation
        self._audit = audit
        self._groups = groups

    def routes(self) -> dict[str, Handler]:
        return {"keys.publish": self.publish, "keys.count": self.count, "keys.claim": self.claim,
                "secret.send": self.send, "secret.report": self.report, "secret.policy": self.policy}

    async def policy(self, call: Call) -> dict[str, Any]:
        only(call)
        return self._prekeys.policy.as_wire()

    async def publish(self, call: Call) -> dict[str, Any]:
        args = only(call, "bundle")
        return {"one_time_prekeys": await self._prekeys.publish(me(call), args.get("bundle"))}

    async def count(self, call: Call) -> dict[str, Any]:
        only(call)
        return {"one_time_prekeys": await self._prekeys.held(me(call))}

    async def claim(self, call: Call) -> dict[str, Any]:
        args = only(call, "account")
        return await self._prekeys.claim(me(call), args.get("account"))

    async def send(self, call: Call) -> dict[str, Any]:
        args = only(call, "chat", "sealed", "franking", "client_id")
        chat = text(args, "chat", limit=ID_LIMIT)
        sealed = dict(sealed=text(args, "sealed", limit=SEALED_LIMIT), franking=text(args, "franking", limit=64),
                      client_id=text(args, "client_id", limit=64))
        if chat.startswith(GROUP_PREFIX):
            message = await self._groups.send_sealed(me(call), chat=chat, **sealed)
        else:
            message = await self._chats.send_sealed(me(call), chat=chat, **sealed)
        return ack(message)

    async def report(self, call: Call) -> dict[str, Any]:
        args = only(call, "chat", "seq", "text", "franking_key", "reason", "note")
        report = await self._moderation.report_secret(
            me(call), chat=text(args, "chat", limit=ID_LIMIT), seq=seq_arg(args, "seq"),
            text=text(args, "text", limit=MAX_TEXT_CHARS * 2), franking_key=text(args, "franking_key", limit=64),
            reason=args.get("reason"), note=optional_text(args, "note", limit=2000))
        await self._audit.record(AuditEvent(
            actor=me(call), role="user", action=call.action, target=report.account, region=call.region,
            request_id=call.request_id, outcome="success",
            detail={"report": report.id, "reason": report.reason, "messages": "1"}))
        return {"report": report.id}
