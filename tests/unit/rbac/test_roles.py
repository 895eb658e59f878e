"""Separation of duties, what can be granted, and which roles need a second factor."""

from __future__ import annotations

import pytest

from svyaz.rbac.assignment import check_assignment
from svyaz.rbac.errors import InvalidAssignment
from svyaz.rbac.roles import GRANTABLE_ROLES, ROLES_REQUIRING_2FA, conflicts_with


def test_conflicting_pairs():
    assert conflicts_with("admin", {"security_officer", "moderator"}) == {"security_officer"}
    assert conflicts_with("auditor", {"admin", "security_officer"}) == {"admin", "security_officer"}
    assert conflicts_with("authority", GRANTABLE_ROLES - {"authority"}) == GRANTABLE_ROLES - {"authority"}
    assert conflicts_with("moderator", {"admin", "security_officer", "auditor"}) == set()
    assert conflicts_with("admin", {"admin"}) == set()  # holding it already is not a conflict


@pytest.mark.parametrize(("account", "role", "region", "message"), [
    ("alice", "admin", "ru", "not an account id"),
    ("@alice:ru", "user", "ru", "comes with the credential"),
    ("@alice:ru", "root", "ru", "is not a role"),
    ("@alice:ru", "admin", "us", "region 'us' is not known"),
])
def test_invalid_assignments(account, role, region, message):
    with pytest.raises(InvalidAssignment, match=message):
        check_assignment(account, role, region)


def test_roles_requiring_2fa_are_the_privileged_granted_ones():
    assert ROLES_REQUIRING_2FA == {"security_officer", "auditor", "authority", "admin"}
    assert ROLES_REQUIRING_2FA < GRANTABLE_ROLES  # never an implicit role: `user` needs no 2FA
    assert "moderator" not in ROLES_REQUIRING_2FA
