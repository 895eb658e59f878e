"""The role store against the ru FerretDB: idempotent grants, revokes, filtered lists, full loads."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
import trio

from svyaz.rbac.assignment import RoleAssignment
from svyaz.rbac.errors import RoleStoreUnavailable
from svyaz.rbac.store import open_role_store


async def test_grant_is_idempotent_and_revoke_reports_whether_it_removed(role_store):
    with trio.fail_after(20):
        assert await role_store.grant(RoleAssignment("@a:ru", "admin", "ru", granted_by="@root:ru"))
        assert not await role_store.grant(RoleAssignment("@a:ru", "admin", "ru", granted_by="@other:ru"))
        [stored] = await role_store.load_all()
        assert (stored.granted_by, stored.granted_at.utcoffset()) == ("@root:ru", timedelta(0))
        assert await role_store.revoke("@a:ru", "admin", "ru")
        assert not await role_store.revoke("@a:ru", "admin", "ru")
        assert await role_store.load_all() == []


async def test_list_filters_by_account_and_region(role_store):
    rows = [("@a:ru", "admin", "ru"), ("@a:ru", "moderator", "by"), ("@b:ru", "auditor", "ru"),
            # account ids are caller-chosen text: separators in them must not collide
            ('@x|y",[z:ru', "moderator", "ru")]
    with trio.fail_after(20):
        for account, role, region in rows:
            await role_store.grant(RoleAssignment(account, role, region))
        keys = lambda found: [a.key for a in found]  # noqa: E731
        assert keys(await role_store.list(account="@a:ru")) == [("@a:ru", "moderator", "by"), ("@a:ru", "admin", "ru")]
        assert keys(await role_store.list(region="ru")) == [
            ("@a:ru", "admin", "ru"), ("@b:ru", "auditor", "ru"), ('@x|y",[z:ru', "moderator", "ru")]
        assert keys(await role_store.list(account="@a:ru", region="by")) == [("@a:ru", "moderator", "by")]
        assert len(await role_store.load_all()) == 4


async def test_a_store_that_does_not_answer_is_role_store_unavailable():
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        url = f"mongodb://127.0.0.1:{sock.getsockname()[1]}/"
    with trio.fail_after(10), pytest.raises(RoleStoreUnavailable, match="^role store: .*refused"):
        async with open_role_store(url, "t_dead", timeout_s=0.5) as store:
            await store.load_all()
