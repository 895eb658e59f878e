"""block.*, report.create, presence.get, moderation.review: keeping people safe, over the call API.

Reports are written to the audit log (who reported whom, why, how many messages; never the
messages themselves, which only moderators read from the report). `moderation.review` is a
privileged action: the guard has already audited the moderator's reading before it runs.
"""

from __future__ import annotations

from typing import Any

from svyaz.compliance.audit.event import AuditEvent, AuditSink
from svyaz.messaging.moderation import Moderation, Presence
from svyaz.messaging.safety import Report
from svyaz.node.api import Call, Handler
from svyaz.node.errors import InvalidField
from svyaz.node.handlers.args import optional_text
from svyaz.node.handlers.args import me, only, optional_seq


class SafetyHandlers:
    def __init__(self, moderation: Moderation, presence: Presence, audit: AuditSink) -> None:
        self._moderation = moderation
        self._presence = presence
        self._audit = audit

    def routes(self) -> dict[str, Handler]:
        return {"block.add": self.block, "block.remove": self.unblock, "block.list": self.blocked,
                "report.create": self.report, "presence.get": self.presence,
                "moderation.review": self.review}

    async def block(self, call: Call) -> dict[str, Any]:
        args = only(call, "account")
        return {"blocked": await self._moderation.block(me(call), args.get("account"))}

    async def unblock(self, call: Call) -> dict[str, Any]:
        args = only(call, "account")
        return {"unblocked": await self._moderation.unblock(me(call), args.get("account"))}

    async def blocked(self, call: Call) -> dict[str, Any]:
        only(call)
        return {"accounts": await self._moderation.blocked(me(call))}

    async def report(self, call: Call) -> dict[str, Any]:
        args = only(call, "account", "reason", "note", "messages")
        messages = args.get("messages", [])
        if not isinstance(messages, list):
            raise InvalidField('"messages" must be a list of {"chat", "seq"}')
        report = await self._moderation.report(me(call), account=args.get("account"), reason=args.get("reason"),
                                               note=optional_text(args, "note", limit=2000), messages=messages)
        await self._audit.record(AuditEvent(
            actor=me(call), role="user", action=call.action, target=report.account, region=call.region,
            request_id=call.request_id, outcome="success",
            detail={"report": report.id, "reason": report.reason, "messages": str(len(report.messages))}))
        return {"report": report.id}

    async def presence(self, call: Call) -> dict[str, Any]:
        args = only(call, "account")
        return await self._presence.seen_by(me(call), args.get("account"))

    async def review(self, call: Call) -> dict[str, Any]:
        args = only(call, "limit")
        reports = await self._moderation.open_reports(limit=optional_seq(args, "limit") or 50)
        return {"reports": [_report(report) for report in reports]}


def _report(report: Report) -> dict[str, Any]:
    return {"id": report.id, "reporter": report.reporter, "account": report.account, "reason": report.reason,
            "note": report.note, "messages": list(report.messages), "created_at": report.created_at,
            "status": report.status}


