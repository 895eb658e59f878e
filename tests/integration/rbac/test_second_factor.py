"""Roles have one source of truth, end to end: svyaz.rbac's role assignments. Identity asks them
(through this process's role index) at sign-in and when 2FA is turned off, and `role.grant` asks
identity whether the account has a confirmed second factor. Two processes of the ru node, wired as
the node wires them, over the real FerretDB and Kafka.
"""

from __future__ import annotations

import time

import pytest
import trio

from svyaz.identity.errors import SecondFactorRequired
from svyaz.identity.totp import code_at, time_step
from svyaz.rbac.assignment import RoleAssignment
from svyaz.rbac.errors import Forbidden
from svyaz.rbac.principal import Principal
from tests.integration.rbac.conftest import HOME, PASSWORD

ROOT = Principal.account("@root:ru", second_factor=True)
BOB = "@bob:ru"
CAROL = "@carol:ru"


async def until(predicate, bound_s: float = 5.0) -> None:
    with trio.fail_after(bound_s):
        while not predicate():
            await trio.sleep(0.005)


def next_code(secret: str) -> str:
    """A code for the step after now: fresh (above any step used so far) and inside the ±1 window."""
    return code_at(secret, time_step(time.time()) + 1)


async def test_a_role_needing_2fa_waits_for_it_and_then_keeps_2fa_on(seeded, open_process):
    async with open_process() as first, open_process() as second:
        await first.call(first.identity.register, BOB, PASSWORD)
        with pytest.raises(Forbidden) as refused:
            await first.admin.grant(ROOT, account=BOB, role="admin", region="ru", request_id="g1")
        assert "two-factor" in refused.value.hint
        assert [(e.outcome, e.detail.get("reason")) for e in first.sink.events] == [
            ("allowed", None), ("denied", "second_factor_required")]
        assert await seeded.list(account=BOB) == []

        enrolment = await first.call(first.identity.begin_totp_enrolment, BOB, PASSWORD, device=HOME)
        await first.call(first.identity.confirm_totp, BOB, PASSWORD,
                         code_at(enrolment.secret, time_step(time.time())), device=HOME)
        await first.admin.grant(ROOT, account=BOB, role="admin", region="ru", request_id="g2")
        assert [a.key for a in await seeded.list(account=BOB)] == [(BOB, "admin", "ru")]

        # The other process hears of the grant over Kafka; its identity then keeps 2FA on.
        await until(lambda: "admin" in second.guard.policy.index.roles_of(BOB, "ru"))
        with pytest.raises(SecondFactorRequired, match="cannot be turned off"):
            await second.call(second.identity.disable_totp, BOB, PASSWORD, next_code(enrolment.secret), device=HOME)

        # Moving 2FA to a new phone: the admin revokes, the owner turns 2FA off.
        await first.admin.revoke(ROOT, account=BOB, role="admin", region="ru", request_id="r1")
        await until(lambda: not second.guard.policy.index.roles_of(BOB, "ru"))
        await second.call(second.identity.disable_totp, BOB, PASSWORD, next_code(enrolment.secret), device=HOME)
        assert not await first.call(first.identity.has_confirmed_second_factor, BOB)


async def test_an_admin_the_operator_put_in_must_enrol_before_signing_in(seeded, open_process):
    async with open_process() as process:
        await process.call(process.identity.register, CAROL, PASSWORD)
        # The operator's way to make a region's first admin: a row in the store (no CLI yet).
        await seeded.grant(RoleAssignment(CAROL, "admin", "ru", granted_by="operator"))
        await process.loader.load_all()  # what the watcher's periodic reload does

        with pytest.raises(SecondFactorRequired) as refused:
            await process.call(process.identity.login, CAROL, PASSWORD, device=HOME)
        assert "admin" in str(refused.value) and "svyaz 2fa enable" in refused.value.hint

        enrolment = await process.call(process.identity.begin_totp_enrolment, CAROL, PASSWORD, device=HOME)
        await process.call(process.identity.confirm_totp, CAROL, PASSWORD,
                           code_at(enrolment.secret, time_step(time.time())), device=HOME)
        signed_in = await process.call(process.identity.login, CAROL, PASSWORD, device=HOME,
                                       totp_code=next_code(enrolment.secret))
        assert signed_in.second_factor == "totp"
        # The token names the account; the guard finds the role in the index.
        claims = await process.call(process.identity.authenticate, signed_in.tokens.access_token)
        assert claims.amr == ("otp", "pwd")
        principal = Principal.account(claims.sub, second_factor="otp" in claims.amr)
        assert process.guard.role_for(principal, "role.grant", "ru") == "admin"


async def test_a_grant_for_another_regions_account_needing_2fa_is_refused(seeded, open_process):
    # The ru node's identity cannot vouch for @bob:by's second factor: refused, not assumed.
    async with open_process() as process:
        with pytest.raises(Forbidden):
            await process.admin.grant(ROOT, account="@bob:by", role="auditor", region="ru", request_id="g1")
        assert process.sink.events[-1].detail["reason"] == "second_factor_required"
        await process.admin.grant(ROOT, account="@bob:by", role="moderator", region="ru", request_id="g2")


async def test_two_admins_granting_conflicting_roles_at_once_never_leave_both(seeded, open_process,
                                                                             with_second_factor):
    # security_officer and auditor may not be combined; two processes grant them at the same moment.
    async with open_process() as first, open_process() as second:
        await with_second_factor(first, BOB)
        for round_ in range(8):
            outcomes: list[str] = []

            async def grant(process, role: str) -> None:
                try:
                    await process.admin.grant(ROOT, account=BOB, role=role, region="ru", request_id=f"{role}{round_}")
                    outcomes.append(role)
                except Forbidden:
                    outcomes.append("refused")

            async with trio.open_nursery() as both:
                both.start_soon(grant, first, "security_officer")
                both.start_soon(grant, second, "auditor")
            held = {a.role for a in await seeded.list(account=BOB, region="ru")}
            assert held in ({"security_officer"}, {"auditor"}, set()), (round_, held, outcomes)
            assert held == {role for role in outcomes if role != "refused"}
            for role in held:
                await seeded.revoke(BOB, role, "ru")
