"""The identity issue's scripted attack, over the real gateway, store, Kafka and audit log."""

from __future__ import annotations

import time

import pyotp
import pytest
import trio

from svyaz.client.connection import NodeUnreachable, RemoteError, open_node_client
from svyaz.rbac.actions import CATALOGUE
from svyaz.rbac.policy import load_policy

PASSWORD = "violet tractor mountain 42"


async def register_and_login(node, account: str, *, address: str = "10.1.0.1") -> dict:
    async with open_node_client(node.url, extra_headers=[("X-Forwarded-For", address)]) as client:
        await client.call("account.register", account=account, password=PASSWORD)
        return await client.call("auth.login", account=account, password=PASSWORD, device="test")


async def login(node, account: str, password: str, *, address: str, **factors) -> dict:
    async with open_node_client(node.url, extra_headers=[("X-Forwarded-For", address)]) as client:
        return await client.call("auth.login", account=account, password=password, **factors)


async def call_as(node, tokens: dict, action: str, **args) -> dict:
    async with open_node_client(node.url, access_token=tokens["access_token"]) as client:
        return await client.call(action, **args)


def audit_entries(node, **match) -> list[dict]:
    return list(node.database("compliance")["audit"].find(match).sort("seq", 1))


async def test_a_replayed_totp_code_is_refused(node):
    tokens = await register_and_login(node, "@alice:ru")
    enrolment = await call_as(node, tokens, "2fa.enable", password=PASSWORD)
    totp = pyotp.TOTP(enrolment["secret"])
    if 30 - time.time() % 30 < 3:  # confirm and replay within one time step
        await trio.sleep(4)
    code = totp.now()
    await call_as(node, tokens, "2fa.confirm", password=PASSWORD, code=code)

    with pytest.raises(RemoteError) as replay:  # the code that turned 2FA on, used again
        await login(node, "@alice:ru", PASSWORD, address="10.1.0.2", totp_code=code)
    with pytest.raises(RemoteError) as missing:
        await login(node, "@alice:ru", PASSWORD, address="10.1.0.2")

    assert replay.value.code == "totp_replayed"
    assert missing.value.code == "totp_required"
    assert audit_entries(node, action="auth.login", outcome="failure", **{"detail.reason": "totp_replayed"})


async def test_a_fresh_code_of_the_next_step_works_once(node):
    tokens = await register_and_login(node, "@alina:ru")
    enrolment = await call_as(node, tokens, "2fa.enable", password=PASSWORD)
    totp = pyotp.TOTP(enrolment["secret"])
    await call_as(node, tokens, "2fa.confirm", password=PASSWORD, code=totp.now())
    await trio.sleep(30 - time.time() % 30 + 0.5)  # the next time step
    code = totp.now()

    signed_in = await login(node, "@alina:ru", PASSWORD, address="10.1.1.2", totp_code=code)
    with pytest.raises(RemoteError) as replay:
        await login(node, "@alina:ru", PASSWORD, address="10.1.1.2", totp_code=code)

    assert signed_in["second_factor"] == "totp"
    assert replay.value.code == "totp_replayed"


async def test_the_101st_failure_is_throttled_while_the_owner_still_signs_in_from_a_clean_address(node):
    await register_and_login(node, "@bob:ru")
    for n in range(100):  # credential stuffing from a hundred addresses
        with pytest.raises(RemoteError) as failed:
            await login(node, "@bob:ru", f"guess number {n}", address=f"10.2.{n // 250}.{n % 250}")
        assert failed.value.code == "bad_credentials"

    with pytest.raises(RemoteError) as throttled:
        await login(node, "@bob:ru", "guess number 100", address="10.2.0.7")
    owner = await login(node, "@bob:ru", PASSWORD, address="192.0.2.10")

    assert throttled.value.code == "throttled" and throttled.value.retry_after_s > 0
    assert owner["account"] == "@bob:ru"


async def test_reusing_a_stolen_refresh_token_revokes_the_family_and_closes_its_connection(node):
    tokens = await register_and_login(node, "@carol:ru")
    async with open_node_client(node.url, access_token=tokens["access_token"]) as victim:
        async with open_node_client(node.url) as anonymous:
            rotated = await anonymous.call("auth.refresh", refresh_token=tokens["refresh_token"])
            with pytest.raises(RemoteError) as reuse:  # the thief replays the copy it stole
                await anonymous.call("auth.refresh", refresh_token=tokens["refresh_token"])
            with pytest.raises(RemoteError) as rotated_too:
                await anonymous.call("auth.refresh", refresh_token=rotated["refresh_token"])
        # Bound: identity.session_check_interval_s (0.25 s here) plus one store read.
        check_interval = node.config.identity.session_check_interval_s
        with trio.fail_after(check_interval + 2.0), pytest.raises(NodeUnreachable):
            while True:
                await victim.call("account.profile.read")
                await trio.sleep(0.05)

    assert reuse.value.code == "refresh_reuse"
    assert rotated_too.value.code in {"refresh_reuse", "session_revoked", "token_invalid"}
    assert victim.closed is not None and victim.closed.reason.code == 4001
    assert audit_entries(node, action="auth.refresh", **{"detail.reason": "refresh_reuse"})


async def test_a_revoked_session_is_disconnected_within_the_bound(node):
    tokens = await register_and_login(node, "@dave:ru")
    other = await login(node, "@dave:ru", PASSWORD, address="10.3.0.1")
    async with open_node_client(node.url, access_token=tokens["access_token"]) as first:
        await call_as(node, other, "sessions.revoke", others=True)
        began = trio.current_time()
        with trio.fail_after(node.config.identity.session_check_interval_s + 2.0):
            while first.closed is None:
                await trio.sleep(0.02)
        took = trio.current_time() - began

    assert first.closed.reason.code == 4001
    assert took < node.config.identity.session_check_interval_s + 2.0


async def test_an_officer_without_2fa_is_refused_and_told_why(node):
    await register_and_login(node, "@erin:ru")
    # The operator's bootstrap path: an assignment written straight to the store.
    node.database("core")["role_assignments"].insert_one(
        {"_id": '["@erin:ru","ru","security_officer"]', "account": "@erin:ru", "region": "ru",
         "role": "security_officer", "granted_by": "operator"})

    with trio.fail_after(20):  # the periodic full reload (1 s here) picks the assignment up
        while True:
            try:
                await login(node, "@erin:ru", PASSWORD, address="10.4.0.1")
            except RemoteError as err:
                if err.code == "second_factor_required":
                    refusal = err
                    break
            await trio.sleep(0.5)

    assert "security_officer" in str(refusal) and "two-factor" in str(refusal)


async def test_every_action_a_user_may_not_perform_is_denied_and_each_denial_audited(node):
    tokens = await register_and_login(node, "@frank:ru")
    forbidden_to_users = [a.name for a in CATALOGUE
                          if load_policy().judge(("user",), "ru", a.name) is None]

    for action in forbidden_to_users:
        with pytest.raises(RemoteError) as refused:
            await call_as(node, tokens, action)
        assert refused.value.code == "forbidden", action

    audited = [e["action"] for e in audit_entries(node, actor="@frank:ru", outcome="denied")]
    assert sorted(audited) == sorted(forbidden_to_users)
    assert len(forbidden_to_users) >= 10  # role.*, audit.*, lawful.*, moderation, federation, ...


async def test_the_gateway_asks_for_a_fresh_token_and_closes_when_none_comes(nursery, stack, test_id, tmp_path):
    from tests.integration.access.conftest import RunningNode, _until_roles_loaded, node_config
    from svyaz.node.service import run

    config = node_config(stack, test_id, tmp_path / "node", identity__access_lifetime_s="6",
                         identity__reauth_lead_s="3")
    short_lived = RunningNode(config, await nursery.start(run, config))
    await _until_roles_loaded(short_lived)
    tokens = await register_and_login(short_lived, "@kira:ru")

    async with open_node_client(short_lived.url, access_token=tokens["access_token"]) as renewing, \
            open_node_client(short_lived.url, access_token=tokens["access_token"]) as silent:
        with trio.fail_after(8):
            push = await renewing.pushes.receive()
        async with open_node_client(short_lived.url) as anonymous:
            fresh = await anonymous.call("auth.refresh", refresh_token=tokens["refresh_token"])
        renewed = await renewing.authenticate(fresh["access_token"])
        with trio.fail_after(10):
            while silent.closed is None:
                await trio.sleep(0.05)
        profile = await renewing.call("account.profile.read")  # past the first token's expiry

    assert push["type"] == "reauth" and push["expires_at"] <= time.time() + 6
    assert silent.closed.reason.code == 4002
    assert renewed["account"] == "@kira:ru" and renewed["expires_at"] > push["expires_at"]
    assert profile["account"] == "@kira:ru"
