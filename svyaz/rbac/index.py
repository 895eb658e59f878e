"""Who holds which granted role in which region, in memory: the enforcer's role manager.

pycasbin's own domain role manager rebuilds a per-domain manager on every lookup and keeps an entry
for every name it was ever asked about (4.5 ms a lookup and unbounded growth at 10 000
assignments, measured); this index answers from dictionaries and replaces an account's or the
whole node's assignments in one synchronous step, so a concurrent check sees either the old or
the new set, never half of each.

Links only go from an account to a role within one region: policy.csv has no role hierarchy.
"""

from __future__ import annotations

from collections.abc import Iterable

from casbin.rbac import RoleManager

from svyaz.rbac.assignment import RoleAssignment

# account -> region -> roles
RoleTable = dict[str, dict[str, frozenset[str]]]


class RoleIndex(RoleManager):
    def __init__(self) -> None:
        self._table: RoleTable = {}

    # Our own API: whole-account and whole-index replacement.

    def roles_of(self, account: str, region: str) -> frozenset[str]:
        return self._table.get(account, {}).get(region, frozenset())

    def replace_account(self, account: str, assignments: Iterable[RoleAssignment]) -> None:
        """Make `assignments` (every region) the whole truth about `account`."""
        table = build_table(a for a in assignments if a.account == account)
        if account in table:
            self._table[account] = table[account]
        else:
            self._table.pop(account, None)

    def replace_all(self, assignments: Iterable[RoleAssignment]) -> None:
        self._table = build_table(assignments)

    def swap(self, table: RoleTable) -> None:
        """Replace everything with a table made by `build_table` (which may run in a thread:
        building 100 000 assignments takes about half a second here)."""
        self._table = table

    def assignments(self) -> list[tuple[str, str, str]]:
        """(account, role, region) for every assignment, sorted."""
        return sorted(
            (account, role, region)
            for account, regions in self._table.items()
            for region, roles in regions.items()
            for role in roles
        )

    # casbin's RoleManager interface. The enforcer calls has_link from the matcher's g().

    def clear(self) -> None:
        self._table = {}

    def add_link(self, name1: str, name2: str, *domain: str) -> None:
        region = _one(domain)
        regions = self._table.setdefault(name1, {})
        regions[region] = regions.get(region, frozenset()) | {name2}

    def delete_link(self, name1: str, name2: str, *domain: str) -> None:
        region = _one(domain)
        regions = self._table.get(name1, {})
        remaining = regions.get(region, frozenset()) - {name2}
        if remaining:
            regions[region] = remaining
        else:
            regions.pop(region, None)
        if not regions:
            self._table.pop(name1, None)

    def has_link(self, name1: str, name2: str, *domain: str) -> bool:
        return name1 == name2 or name2 in self.roles_of(name1, _one(domain))

    def get_roles(self, name: str, *domain: str) -> list[str]:
        return sorted(self.roles_of(name, _one(domain)))

    def get_users(self, name: str, *domain: str) -> list[str]:
        region = _one(domain)
        return sorted(account for account, regions in self._table.items() if name in regions.get(region, ()))

    def print_roles(self) -> None:
        pass


def build_table(assignments: Iterable[RoleAssignment]) -> RoleTable:
    sets: dict[str, dict[str, set[str]]] = {}
    for assignment in assignments:
        sets.setdefault(assignment.account, {}).setdefault(assignment.region, set()).add(assignment.role)
    return {account: {region: frozenset(roles) for region, roles in regions.items()}
            for account, regions in sets.items()}


def _one(domain: tuple[str, ...]) -> str:
    if len(domain) != 1:
        raise ValueError("role links in Svyaz always carry exactly one region")
    return domain[0]
