"""A role assignment: one account holds one granted role in one region."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from svyaz.rbac.errors import InvalidAssignment
from svyaz.rbac.roles import ALL_ROLES, GRANTABLE_ROLES
from svyaz.regions import KNOWN_REGIONS

_MAX_ACCOUNT = 256


@dataclass(frozen=True)
class RoleAssignment:
    account: str
    role: str
    region: str
    granted_by: str = "-"
    granted_at: datetime | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.account, self.role, self.region)


def check_assignment(account: str, role: str, region: str) -> None:
    """Raise InvalidAssignment unless `role` may be granted to `account` in `region`."""
    if not account.startswith("@") or len(account) > _MAX_ACCOUNT or not account.isprintable():
        raise InvalidAssignment(f"{account!r} is not an account id (like @alice:ru)")
    if role not in GRANTABLE_ROLES:
        why = "comes with the credential" if role in ALL_ROLES else "is not a role"
        raise InvalidAssignment(
            f"role {role!r} cannot be granted: it {why}",
            hint="grantable roles: " + ", ".join(sorted(GRANTABLE_ROLES)),
        )
    if region not in KNOWN_REGIONS:
        raise InvalidAssignment(
            f"region {region!r} is not known", hint="known regions: " + ", ".join(KNOWN_REGIONS)
        )
