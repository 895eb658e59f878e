"""Granting, revoking and listing roles: the `role.*` use cases.

A change is written to the store first (the truth), then announced on Kafka (so the node's other
processes reload that account at once), then applied to this process's index. If the announcement
fails the change still holds: the other processes pick it up at their next full reload, and the
failure is logged.

Rules beyond what policy.csv can say are enforced here, through the guard so every refusal is
audited: nobody grants a role to themselves, one account never holds two conflicting roles in one
region (see `roles.conflicts_with`), and a role in ROLES_REQUIRING_2FA goes only to an account with
a confirmed second factor (asked through the `second_factor` port; svyaz.identity answers).

FerretDB has no transactions, so these checks read and then the grant writes. Two simultaneous
conflicting grants by different admins could both pass the check; so after writing, a grant reads
the account's roles again and, finding a conflicting one, takes itself back and is refused (both
racers may; neither role then stays, the safe outcome). A grant racing the owner turning 2FA off can
leave a role needing 2FA on an account without it: harmless, because identity refuses that
account's sign-in without 2FA and the guard acts on such roles only in sessions signed in with a
second factor.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timezone

import trio

from svyaz.compliance.audit.event import AuditEvent, AuditSink, AuditUnavailable
from svyaz.rbac.assignment import RoleAssignment, check_assignment
from svyaz.rbac.changes import RoleChange
from svyaz.rbac.errors import ChangeNotPublished, RoleStoreUnavailable
from svyaz.rbac.guard import Guard
from svyaz.rbac.loader import RoleLoader
from svyaz.rbac.ports import ChangePublisher, RoleStore, SecondFactorCheck
from svyaz.rbac.principal import Principal
from svyaz.rbac.roles import ROLES_REQUIRING_2FA, conflicts_with

logger = logging.getLogger("svyaz.rbac.administration")

_RESULT_AUDIT_TIMEOUT_S = 5.0


class RoleAdministration:
    def __init__(self, guard: Guard, store: RoleStore, publisher: ChangePublisher, loader: RoleLoader,
                 audit: AuditSink, *, second_factor: SecondFactorCheck) -> None:
        self._guard = guard
        self._store = store
        self._publisher = publisher
        self._loader = loader
        self._audit = audit
        self._second_factor = second_factor

    async def grant(self, principal: Principal, *, account: str, role: str, region: str,
                    request_id: str) -> RoleAssignment:
        """Grant `role` to `account` in `region`; granting a role already held is a no-op.

        Forbidden (audited) if the caller may not grant here, for a self-grant, a conflicting role,
        or a role in ROLES_REQUIRING_2FA for an account without a confirmed second factor."""
        detail = {"role": role}
        await self._guard.check(principal, "role.grant", region, target=account, request_id=request_id,
                                detail=detail)
        check_assignment(account, role, region)
        if account == principal.actor:
            await self._guard.deny(principal, "role.grant", region, target=account, request_id=request_id,
                                   reason="self_grant", detail=detail)
        held = {a.role for a in await self._store.list(account=account, region=region)}
        conflicting = conflicts_with(role, held)
        if conflicting:
            await self._guard.deny(principal, "role.grant", region, target=account, request_id=request_id,
                                   reason="conflicting_roles",
                                   detail={**detail, "conflicts": ",".join(sorted(conflicting))})
        # Last before the write, to keep the window for the owner turning 2FA off meanwhile short;
        # and only after the guard allowed the caller, so the port never tells a non-admin anything.
        if role in ROLES_REQUIRING_2FA and not await self._second_factor(account):
            await self._guard.deny(principal, "role.grant", region, target=account, request_id=request_id,
                                   reason="second_factor_required", detail=detail,
                                   hint=f"{account} has no two-factor authentication confirmed, which the role "
                                        f"{role} requires: its owner sets it up first, then grant the role again")
        assignment = RoleAssignment(account, role, region, granted_by=principal.actor,
                                    granted_at=datetime.now(timezone.utc))
        judged = self._guard.role_for(principal, "role.grant", region)
        raced: frozenset[str] = frozenset()
        try:
            async with self._recording(principal, judged, "role.grant", assignment, request_id) as outcome:
                outcome["changed"] = await self._store.grant(assignment)
                if outcome["changed"]:
                    raced = await self._take_back_if_conflicting(assignment)
                    outcome["taken_back"] = bool(raced)
        finally:
            await self._announce(RoleChange(account=account, op="grant", role=role, region=region))
        if raced:
            await self._guard.deny(principal, "role.grant", region, target=account, request_id=request_id,
                                   reason="conflicting_roles",
                                   detail={**detail, "conflicts": ",".join(sorted(raced)), "concurrent": "yes"},
                                   hint="another admin granted a conflicting role at the same moment; "
                                        "check `svyaz role list` and decide which one the account keeps")
        return assignment

    async def _take_back_if_conflicting(self, assignment: RoleAssignment) -> frozenset[str]:
        """Re-read after writing: a conflicting role granted meanwhile makes this grant undo itself.
        Returns the conflicting roles found (empty if the grant stands)."""
        held = {a.role for a in await self._store.list(account=assignment.account, region=assignment.region)}
        conflicting = conflicts_with(assignment.role, held - {assignment.role})
        if conflicting:
            await self._store.revoke(assignment.account, assignment.role, assignment.region)
        return conflicting

    async def revoke(self, principal: Principal, *, account: str, role: str, region: str,
                     request_id: str) -> bool:
        """Revoke `role` from `account` in `region`; False if the account did not hold it."""
        await self._guard.check(principal, "role.revoke", region, target=account, request_id=request_id,
                                detail={"role": role})
        check_assignment(account, role, region)
        judged = self._guard.role_for(principal, "role.revoke", region)
        assignment = RoleAssignment(account, role, region)
        async with self._recording(principal, judged, "role.revoke", assignment, request_id) as outcome:
            outcome["changed"] = await self._store.revoke(account, role, region)
        await self._announce(RoleChange(account=account, op="revoke", role=role, region=region))
        return outcome["changed"]

    async def list(self, principal: Principal, *, region: str, account: str | None = None,
                   request_id: str) -> list[RoleAssignment]:
        """Who holds which role in `region` (one account's roles if `account` is given)."""
        await self._guard.check(principal, "role.list", region, target=account or "-", request_id=request_id)
        return await self._store.list(account=account, region=region)

    async def _announce(self, change: RoleChange) -> None:
        # Announced even when nothing changed: a no-op costs one reload, and a process that missed
        # an earlier event is corrected by it.
        try:
            await self._publisher.publish(change)
        except ChangeNotPublished as err:
            logger.error("role change stored but not announced; other processes see it at their "
                         "next full reload", extra={"account": change.account, "error": str(err)})
        try:
            await self._loader.load_account(change.account)
        except RoleStoreUnavailable as err:
            # This process's own watcher receives the event too and retries; the change is made.
            logger.warning("role change stored but not yet applied here",
                           extra={"account": change.account, "error": str(err)})

    @asynccontextmanager
    async def _recording(self, principal: Principal, judged: str | None, action: str,
                         assignment: RoleAssignment, request_id: str) -> AsyncIterator[dict]:
        """Audit the store write's result. The guard already recorded (and required) the `allowed`
        entry before it; failing to record the result cannot undo the write, so it is logged."""
        outcome: dict = {}
        result = "failure"
        try:
            yield outcome
            result = "success"
        finally:
            detail = {"role": assignment.role}
            if result == "success":
                detail["changed"] = "yes" if outcome["changed"] else "no"
                if outcome.get("taken_back"):
                    detail["taken_back"] = "concurrent_conflict"
            event = AuditEvent(actor=principal.actor, role=judged or "none", action=action,
                               target=assignment.account, region=assignment.region,
                               request_id=request_id, outcome=result, detail=detail)
            try:
                with trio.CancelScope(shield=True), trio.move_on_after(_RESULT_AUDIT_TIMEOUT_S):
                    await self._audit.record(event)
            except AuditUnavailable as err:
                logger.error("role change result not audited",
                             extra={"action": action, "account": assignment.account, "error": str(err)})
