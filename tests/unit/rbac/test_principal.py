"""A Principal carries only what a credential proves; granted roles never ride on it."""

from __future__ import annotations

import pytest

from svyaz.rbac.principal import Principal


def test_the_three_kinds_of_caller():
    assert Principal.nobody() == Principal("anonymous", ("anonymous",), anonymous=True)
    assert Principal.account("@alice:ru") == Principal("@alice:ru", ("user",))
    assert Principal.peer("by") == Principal("service:by", ("service",))


def test_granted_roles_cannot_be_smuggled_in_on_a_principal():
    with pytest.raises(ValueError, match="granted roles"):
        Principal("@alice:ru", ("user", "admin"))


@pytest.mark.parametrize("bad", [
    lambda: Principal("@alice:ru", ("user",), anonymous=True),
    lambda: Principal("anonymous", ("user",)),
    lambda: Principal("", ("user",)),
    lambda: Principal("@a\n:ru", ("user",)),
    lambda: Principal.account("alice"),
])
def test_inconsistent_principals_are_refused(bad):
    with pytest.raises(ValueError):
        bad()
