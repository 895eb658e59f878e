"""What an audit entry says, and the one port through which every package records it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from svyaz.errors import SvyazError


@dataclass(frozen=True)
class AuditEvent:
    """One auditable fact. Never carries secrets or message content.

    actor:   account id (`@alice:ru`), `service:<peer>` or `anonymous`
    role:    the role the action was judged under (`user`, `security_officer`, ...) or `none`
    action:  a registered action name, e.g. `auth.login`, `account.profile.read`, `role.grant`
    target:  what was acted on, e.g. an account id, a session id, a role name; `-` if nothing
    region:  the node's region (the Casbin domain)
    request_id: correlates the entry with logs and the client's request
    outcome: `allowed`, `denied`, `success` or `failure`
    detail:  small, non-secret facts (e.g. `{"reason": "bad_totp"}`, `{"address": "10.0.0.5"}`)
    """

    actor: str
    role: str
    action: str
    target: str
    region: str
    request_id: str
    outcome: str
    detail: dict[str, str] = field(default_factory=dict)


class AuditUnavailable(SvyazError):
    """The audit log could not be written: privileged actions must fail closed."""

    code = "audit_unavailable"


class AuditSink(Protocol):
    async def record(self, event: AuditEvent) -> None:
        """Durably append `event`; raise AuditUnavailable if that is not possible."""
