"""The ports the rbac use cases talk through; `store` and `publisher` adapt them to pymongo and
confluent-kafka. `SecondFactorCheck` is answered by svyaz.identity, which the node wires in (this
package never imports it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from svyaz.rbac.assignment import RoleAssignment
from svyaz.rbac.changes import RoleChange


class RoleStore(Protocol):
    async def grant(self, assignment: RoleAssignment) -> bool:
        """Store the assignment; False if the account already held that role there (idempotent)."""

    async def revoke(self, account: str, role: str, region: str) -> bool:
        """Remove the assignment; False if there was none."""

    async def list(self, *, account: str | None = None, region: str | None = None) -> list[RoleAssignment]:
        """Assignments matching both filters, sorted by account, region, role."""

    async def load_all(self) -> list[RoleAssignment]:
        """Every assignment this node's store holds."""


class ChangePublisher(Protocol):
    async def publish(self, change: RoleChange) -> None:
        """Deliver `change` to the node's other processes; raise ChangeNotPublished if Kafka did not
        acknowledge it."""


SecondFactorCheck = Callable[[str], Awaitable[bool]]
"""account id -> whether it has a confirmed second factor (TOTP enrolled and confirmed).

`role.grant` asks it before granting a role in ROLES_REQUIRING_2FA. The node passes
`lambda account: trio.to_thread.run_sync(identity.has_confirmed_second_factor, account, limiter=...)`.
It answers False for an account it does not know (so the grant is refused) and raises if it cannot
answer (so the grant does not happen)."""
