"""In-memory stand-ins for the audit sink, the role store, the change publisher and identity's
second-factor answer (unit tests only)."""

from __future__ import annotations

from svyaz.compliance.audit.event import AuditEvent, AuditUnavailable
from svyaz.rbac.assignment import RoleAssignment
from svyaz.rbac.changes import RoleChange
from svyaz.rbac.errors import ChangeNotPublished


class RecordingSink:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    async def record(self, event: AuditEvent) -> None:
        self.events.append(event)


class UnavailableSink:
    def __init__(self) -> None:
        self.attempts: list[AuditEvent] = []

    async def record(self, event: AuditEvent) -> None:
        self.attempts.append(event)
        raise AuditUnavailable("audit log: disk full")


class MemoryStore:
    def __init__(self, assignments: list[RoleAssignment] = ()) -> None:
        self.rows = {a.key: a for a in assignments}

    async def grant(self, assignment: RoleAssignment) -> bool:
        if assignment.key in self.rows:
            return False
        self.rows[assignment.key] = assignment
        return True

    async def revoke(self, account: str, role: str, region: str) -> bool:
        return self.rows.pop((account, role, region), None) is not None

    async def list(self, *, account=None, region=None) -> list[RoleAssignment]:
        return sorted((a for a in self.rows.values()
                       if account in (None, a.account) and region in (None, a.region)),
                      key=lambda a: (a.account, a.region, a.role))

    async def load_all(self) -> list[RoleAssignment]:
        return await self.list()


class ListPublisher:
    def __init__(self, *, fail: bool = False) -> None:
        self.changes: list[RoleChange] = []
        self.fail = fail

    async def publish(self, change: RoleChange) -> None:
        if self.fail:
            raise ChangeNotPublished("kafka: no acknowledgement within 5 s")
        self.changes.append(change)


class SecondFactors:
    """The `SecondFactorCheck` port: the accounts with a confirmed second factor, and who was asked."""

    def __init__(self, confirmed=()) -> None:
        self.confirmed = set(confirmed)
        self.asked: list[str] = []

    async def __call__(self, account: str) -> bool:
        self.asked.append(account)
        return account in self.confirmed
