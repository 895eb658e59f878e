"""lawful.request.*: the lawful-access request workflow through the API (docs/compliance.md, "The
request workflow"; the use cases are `svyaz.compliance.lawful.workflow.LawfulRequests`). `close`,
`export` and `download` are in `lawful_export`: they move the bundle too.

The guard has allowed the action (and, all of them being privileged, written its `allowed` entry,
in a second-factor session only: authorities and officers are in ROLES_REQUIRING_2FA) before a
handler runs. The handler names the role the guard allowed it under, and the use case decides the
rest (whose request, which step, four-eyes) and audits the outcome with the request id as target.

What a caller sees of a request (`request_data`): officers see everything, including which
officers approved; an authority sees its own request, its state and the number of approvals, but
not the names of the officers who took the steps.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import trio

from svyaz.compliance.audit.event import AuditSink
from svyaz.compliance.lawful.model import STATES, LawfulRequest, LegalBasis
from svyaz.compliance.lawful.store import lawful_requests
from svyaz.compliance.lawful.workflow import AccountExists, Actor, Draft, LawfulRequests
from svyaz.node.api import Call, Handler
from svyaz.node.errors import InvalidField
from svyaz.node.handlers.args import me, only, optional_text, text
from svyaz.rbac.guard import Guard
from svyaz.rbac.roles import AUTHORITY

if TYPE_CHECKING:
    from pymongo.database import Database

ID_LIMIT = 64
BASIS_FIELDS = ("kind", "number", "date", "issuer", "document_hash")


class LawfulHandlers:
    def __init__(self, requests: LawfulRequests, guard: Guard) -> None:
        self._requests = requests
        self._guard = guard

    @classmethod
    def wired(cls, *, region: str, database: Database, limiter: trio.CapacityLimiter, audit: AuditSink,
              guard: Guard, account_exists: AccountExists) -> LawfulHandlers:
        """The handlers over the Mongo store in `database` (the node's `<prefix>_compliance`)."""
        return cls(lawful_requests(database, limiter, audit, region=region, account_exists=account_exists), guard)

    @property
    def requests(self) -> LawfulRequests:
        return self._requests

    def routes(self) -> dict[str, Handler]:
        return {
            "lawful.request.submit": self.submit,
            "lawful.request.list": self.list,
            "lawful.request.show": self.show,
            "lawful.request.review": self.review,
            "lawful.request.approve": self.approve,
            "lawful.request.reject": self.reject,
        }

    def _actor(self, call: Call) -> Actor:
        role = self._guard.role_for(call.caller.principal, call.action, call.region)
        return Actor(me(call), role or "none")

    async def submit(self, call: Call) -> dict[str, Any]:
        args = only(call, "subject", "categories", "since", "until", "deadline", "basis")
        draft = Draft(subject=text(args, "subject", limit=ID_LIMIT), categories=_categories(args),
                      since=_time(args, "since"), until=_time(args, "until"), deadline=_time(args, "deadline"),
                      basis=_basis(args))
        actor = self._actor(call)
        request = await self._requests.submit(actor, draft, call_id=call.request_id)
        return request_data(request, actor)

    async def list(self, call: Call) -> dict[str, Any]:
        args = only(call, "state")
        state = optional_text(args, "state", limit=16)
        if state is not None and state not in STATES:
            raise InvalidField(f'"state" must be one of {", ".join(STATES)}')
        actor = self._actor(call)
        requests = await self._requests.list(actor, call_id=call.request_id, state=state)
        return {"requests": [request_data(request, actor) for request in requests]}

    async def show(self, call: Call) -> dict[str, Any]:
        actor = self._actor(call)
        return request_data(await self._requests.show(actor, _id(call), call_id=call.request_id), actor)

    async def review(self, call: Call) -> dict[str, Any]:
        actor = self._actor(call)
        return request_data(await self._requests.review(actor, _id(call), call_id=call.request_id), actor)

    async def approve(self, call: Call) -> dict[str, Any]:
        actor = self._actor(call)
        return request_data(await self._requests.approve(actor, _id(call), call_id=call.request_id), actor)

    async def reject(self, call: Call) -> dict[str, Any]:
        args = only(call, "id", "reason")
        actor = self._actor(call)
        reason = args.get("reason", "")
        if not isinstance(reason, str):
            raise InvalidField('"reason" must be a string')
        request = await self._requests.reject(actor, text(args, "id", limit=ID_LIMIT), reason[:4096],
                                              call_id=call.request_id)
        return request_data(request, actor)


def request_data(request: LawfulRequest, actor: Actor) -> dict[str, Any]:
    """A request as the API shows it to `actor` (an authority does not see officers' names)."""
    officer_view = actor.role != AUTHORITY
    basis = request.basis
    data: dict[str, Any] = {
        "id": request.id, "region": request.region, "authority": request.authority, "subject": request.subject,
        "categories": list(request.categories), "since": request.since, "until": request.until,
        "deadline": request.deadline, "submitted_at": request.submitted_at, "state": request.state,
        "approvals": len(request.approvals),
        "basis": {"kind": basis.kind, "number": basis.number, "date": basis.date, "issuer": basis.issuer,
                  "document_hash": basis.document_hash},
        "steps": [{"step": step.name, "at": step.at, "role": step.role,
                   **({"actor": step.actor} if officer_view or step.actor == actor.id else {}),
                   **({"reason": step.reason} if step.reason else {})}
                  for step in request.steps],
    }
    if officer_view:
        data["approved_by"] = list(request.approvals)
    return data


def _id(call: Call) -> str:
    return text(only(call, "id"), "id", limit=ID_LIMIT)


def _time(args: Mapping[str, Any], name: str) -> float:
    value = args.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidField(f'"{name}" is required and must be a time in Unix seconds')
    return float(value)


def _categories(args: Mapping[str, Any]) -> tuple[str, ...]:
    value = args.get("categories")
    if not isinstance(value, list) or len(value) > 16 or not all(isinstance(item, str) for item in value):
        raise InvalidField('"categories" must be a list of category names')
    return tuple(item[:40] for item in value)


def _basis(args: Mapping[str, Any]) -> LegalBasis:
    value = args.get("basis")
    if not isinstance(value, dict):
        raise InvalidField('"basis" must be an object: kind, number, date, issuer, document_hash')
    unknown = sorted(set(value) - set(BASIS_FIELDS))
    if unknown:
        raise InvalidField(f'"basis" takes no field {unknown[0][:40]!r}; it takes {", ".join(BASIS_FIELDS)}')
    fields = {name: value.get(name, "") for name in BASIS_FIELDS}
    if not all(isinstance(field, str) and len(field) <= 1024 for field in fields.values()):
        raise InvalidField('the fields of "basis" must be strings')
    return LegalBasis(**fields)
