"""The guard: the one place that decides whether a principal may perform an action in a region.

Every decision it refuses is written to the audit log before Forbidden is raised. Every allowed
privileged action (see the catalogue) is written to the audit log before `check` returns, and if
the log cannot be written the action does not happen: AuditUnavailable propagates (fail closed).
Plain allowed actions (read one's own profile, deliver a federation event) are not audited here.

Decisions are synchronous dictionary lookups between awaits, so a reload of the role index (itself
one synchronous swap) can never be seen half done.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import NoReturn

from svyaz.compliance.audit.event import AuditEvent, AuditSink, AuditUnavailable
from svyaz.rbac.actions import CATALOGUE, Catalogue
from svyaz.rbac.errors import Forbidden
from svyaz.rbac.policy import RolePolicy
from svyaz.rbac.principal import Principal
from svyaz.rbac.roles import ROLES_REQUIRING_2FA
from svyaz.regions import KNOWN_REGIONS

logger = logging.getLogger("svyaz.rbac.guard")

NO_ROLE = "none"
_MAX_ECHO = 100  # an attempted action name is caller input: keep what reaches the audit log short


class Guard:
    def __init__(self, policy: RolePolicy, audit: AuditSink, *, catalogue: Catalogue = CATALOGUE) -> None:
        self._policy = policy
        self._audit = audit
        self._catalogue = catalogue

    @property
    def policy(self) -> RolePolicy:
        return self._policy

    def roles_of(self, principal: Principal, region: str) -> tuple[str, ...]:
        """The implicit roles of the credential, then the roles granted in `region`, sorted."""
        if principal.anonymous:
            return principal.roles
        granted = self._policy.index.roles_of(principal.actor, region)
        return principal.roles + tuple(sorted(granted - set(principal.roles)))

    def role_for(self, principal: Principal, action: str, region: str) -> str | None:
        """The role under which `principal` may perform `action` in `region`, or None. No audit
        entry: for showing or hiding things, never instead of `check`."""
        if action not in self._catalogue or region not in KNOWN_REGIONS:
            return None
        return self._policy.judge(self.roles_of(principal, region), region, action)

    async def check(
        self,
        principal: Principal,
        action: str,
        region: str,
        *,
        target: str = "-",
        request_id: str,
        detail: Mapping[str, str] | None = None,
        record_allowed: bool = True,
    ) -> None:
        """Return if `principal` may perform `action` in `region`; raise Forbidden otherwise.

        Raises AuditUnavailable for an allowed privileged action whose audit entry cannot be written.
        `detail` (small, non-secret) goes into the audit entry, e.g. `{"role": "moderator"}`.
        `record_allowed=False` only where the use case checks again, with its real target and
        region, and records that `allowed` entry itself (svyaz.rbac.administration); denials are
        always recorded.
        """
        entry = self._catalogue.get(action)
        if entry is None:
            logger.error("programming error: the guard was asked about an action not in the catalogue",
                         extra={"action": _echo(action)})
            await self.deny(principal, action, region, target=target, request_id=request_id,
                            reason="unknown_action", detail=detail)
        if region not in KNOWN_REGIONS:
            logger.error("programming error: the guard was asked about an unknown region",
                         extra={"action": action, "region": _echo(region)})
            await self.deny(principal, action, region, target=target, request_id=request_id,
                            reason="unknown_region", detail=detail)
        role = self.role_for(principal, action, region)
        if role is None:
            reason = "sign_in_required" if principal.anonymous else "not_permitted"
            await self.deny(principal, action, region, target=target, request_id=request_id,
                            reason=reason, detail=detail)
        if role in ROLES_REQUIRING_2FA and not principal.second_factor:
            # The role may have been granted after this session signed in with a password alone.
            await self.deny(principal, action, region, target=target, request_id=request_id,
                            reason="second_factor_required", detail=detail,
                            hint=f"the role {role} acts only in a session signed in with a second factor: "
                                 "sign in again with `svyaz login --totp CODE`")
        if entry.privileged and record_allowed:
            # AuditUnavailable propagates on purpose: no audit entry, no privileged action.
            await self._audit.record(AuditEvent(
                actor=principal.actor, role=role, action=action, target=target, region=region,
                request_id=request_id, outcome="allowed", detail=dict(detail or {}),
            ))

    async def deny(
        self,
        principal: Principal,
        action: str,
        region: str,
        *,
        target: str = "-",
        request_id: str,
        reason: str,
        detail: Mapping[str, str] | None = None,
        hint: str | None = None,
    ) -> NoReturn:
        """Audit a refusal and raise Forbidden. Handlers use it for refusals the policy cannot
        express (separation of duties, ownership, a missing second factor), so every denial is
        recorded the same way. `hint` goes to the caller in Forbidden, never into the audit log."""
        event = AuditEvent(
            actor=principal.actor, role=NO_ROLE, action=_echo(action), target=_echo(target),
            region=_echo(region), request_id=request_id, outcome="denied",
            detail={**(detail or {}), "reason": reason, "roles": ",".join(self.roles_of(principal, region))},
        )
        try:
            await self._audit.record(event)
        except AuditUnavailable as err:
            # The caller is refused either way; the missing entry is the operator's problem to see.
            logger.error("a denial could not be written to the audit log",
                         extra={"action": event.action, "actor": principal.actor, "error": str(err)})
            raise Forbidden(event.action, hint=hint) from err
        raise Forbidden(event.action, hint=hint)


def _echo(text: str) -> str:
    printable = "".join(ch if ch.isprintable() else "?" for ch in text[:_MAX_ECHO])
    return printable + ("…" if len(text) > _MAX_ECHO else "")
