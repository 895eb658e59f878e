"""The first admin of a region: granted by the operator, then granting through the API."""

from __future__ import annotations

import os
import sys

import pyotp
import pytest
import trio

from svyaz.client.connection import RemoteError, open_node_client
from tests.integration.access.test_attack_script import PASSWORD, call_as, login, register_and_login


async def bootstrap(node, account: str) -> trio.CompletedProcess:
    config = node.config
    env = {**os.environ, "SVYAZ_STORE__URL": config.store.url,
           "SVYAZ_STORE__DATABASE_PREFIX": config.store.database_prefix,
           "SVYAZ_KAFKA__BOOTSTRAP_SERVERS": config.kafka.bootstrap_servers,
           "SVYAZ_KAFKA__TOPIC_PREFIX": config.kafka.topic_prefix,
           "SVYAZ_NODE__DATA_DIR": config.node.data_dir}
    with trio.fail_after(60):
        return await trio.run_process(
            [sys.executable, "-m", "svyaz.cli", "node", "bootstrap-admin", "--region", "ru", "--account", account],
            capture_stdout=True, capture_stderr=True, env=env, check=False)


async def test_the_operator_makes_the_first_admin_who_then_grants_roles(node):
    tokens = await register_and_login(node, "@olga:ru")
    refused = await bootstrap(node, "@olga:ru")  # no 2FA yet
    enrolment = await call_as(node, tokens, "2fa.enable", password=PASSWORD)
    codes = await call_as(node, tokens, "2fa.confirm", password=PASSWORD,
                          code=pyotp.TOTP(enrolment["secret"]).now())

    granted = await bootstrap(node, "@olga:ru")
    again = await bootstrap(node, "@olga:ru")

    assert refused.returncode == 1 and b"no confirmed 2FA" in refused.stderr
    assert granted.returncode == 0, granted.stderr
    assert again.returncode == 1 and b"already has an admin" in again.stderr
    admin = await login(node, "@olga:ru", PASSWORD, address="10.5.0.1", recovery_code=codes["recovery_codes"][0])
    await register_and_login(node, "@pavel:ru")
    with trio.fail_after(20):  # the node learns of the grant over Kafka (or its 1 s full reload here)
        while "admin" not in (await call_as(node, admin, "account.profile.read"))["roles"]:
            await trio.sleep(0.1)
    await call_as(node, admin, "role.grant", account="@pavel:ru", role="moderator")
    listed = await call_as(node, admin, "role.list")
    with pytest.raises(RemoteError) as self_grant:
        await call_as(node, admin, "role.grant", account="@olga:ru", role="auditor")
    with pytest.raises(RemoteError) as password_only:  # her session from before 2FA: admin, but not here
        await call_as(node, tokens, "role.grant", account="@pavel:ru", role="auditor")

    assert {(a["account"], a["role"]) for a in listed["assignments"]} == {("@olga:ru", "admin"), ("@pavel:ru", "moderator")}
    assert self_grant.value.code == "forbidden"
    assert password_only.value.code == "forbidden" and "--totp" in password_only.value.hint
    audit = node.database("compliance")["audit"]
    assert audit.find_one({"actor": "@olga:ru", "outcome": "denied", "detail.reason": "second_factor_required"})
    # One grant through the API: one `allowed` entry naming its target, then its result.
    pavel_grant = list(audit.find({"action": "role.grant", "target": "@pavel:ru"}).sort("seq", 1))
    assert [(e["outcome"], e["detail"]) for e in pavel_grant] == [
        ("allowed", {"role": "moderator"}), ("success", {"role": "moderator", "changed": "yes"})]
    operator_entries = list(node.database("compliance")["audit"].find({"actor": {"$regex": "^operator:"}}))
    assert [e["action"] for e in operator_entries] == ["role.grant"]


async def test_an_admin_session_is_not_reachable_without_a_token(node):
    async with open_node_client(node.url) as anonymous:
        with pytest.raises(RemoteError) as refused:
            await anonymous.call("role.list")
    assert refused.value.code == "forbidden"
