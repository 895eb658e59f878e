"""The role-change event's wire format."""

from __future__ import annotations

import pytest

from svyaz.rbac.changes import MalformedChange, RoleChange, changes_topic


def test_a_change_round_trips_and_is_keyed_by_account():
    change = RoleChange(account="@a:ru", op="grant", role="admin", region="ru")
    assert RoleChange.decode(change.encode()) == change
    assert change.key() == b"@a:ru"
    assert changes_topic("t1234.") == "t1234.rbac.changes"


@pytest.mark.parametrize("value", [
    b"", b"not json", b"[]", b'{"account": "@a:ru"}',
    b'{"account": 1, "op": "grant", "role": "admin", "region": "ru", "event_id": "e"}',
    b'{"account": "@a:ru", "op": "delete", "role": "admin", "region": "ru", "event_id": "e"}',
])
def test_anything_else_is_malformed(value):
    with pytest.raises(MalformedChange):
        RoleChange.decode(value)
