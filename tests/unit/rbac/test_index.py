"""The role index: whole-account and whole-index replacement, and casbin's role-manager interface."""

from __future__ import annotations

import pytest

from svyaz.rbac.assignment import RoleAssignment
from svyaz.rbac.index import RoleIndex


def test_replacing_an_account_touches_no_other_account():
    index = RoleIndex()
    index.replace_all([RoleAssignment("@a:ru", "admin", "ru"), RoleAssignment("@b:ru", "auditor", "ru")])
    index.replace_account("@a:ru", [RoleAssignment("@a:ru", "moderator", "by")])
    assert index.assignments() == [("@a:ru", "moderator", "by"), ("@b:ru", "auditor", "ru")]
    index.replace_account("@a:ru", [])
    assert index.assignments() == [("@b:ru", "auditor", "ru")]


def test_replace_account_ignores_rows_of_other_accounts():
    index = RoleIndex()
    index.replace_account("@a:ru", [RoleAssignment("@b:ru", "admin", "ru")])
    assert index.assignments() == []


def test_the_casbin_interface():
    index = RoleIndex()
    index.add_link("@a:ru", "admin", "ru")
    index.add_link("@a:ru", "moderator", "ru")
    assert index.has_link("@a:ru", "admin", "ru") and not index.has_link("@a:ru", "admin", "by")
    assert index.has_link("admin", "admin", "kz")  # a role is itself, as casbin expects
    assert index.get_roles("@a:ru", "ru") == ["admin", "moderator"]
    assert index.get_users("admin", "ru") == ["@a:ru"]
    index.delete_link("@a:ru", "admin", "ru")
    index.delete_link("@a:ru", "moderator", "ru")
    assert index.assignments() == [] and index.roles_of("@a:ru", "ru") == frozenset()
    with pytest.raises(ValueError, match="exactly one region"):
        index.has_link("@a:ru", "admin")


def test_lookups_of_unknown_accounts_leave_nothing_behind():
    index = RoleIndex()
    for n in range(1000):
        assert not index.has_link(f"@nobody{n}:ru", "admin", "ru")
    assert index._table == {}
