"""The request workflow through a real node (ru FerretDB and Kafka, the gateway, the guard, the
audit log) and through the `svyaz lawful` CLI: issue 6's end-to-end path up to approval, and each
refusal the issue lists.

Roles are granted the operator's way (an assignment written to the store, picked up by the node's
1 s full reload): what these tests are about is the workflow, and `role.grant` has its own tests.
Every officer and authority signs in with a second factor (a recovery code, so no test waits for
the next TOTP step).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass

import pyotp
import pytest
import trio

from svyaz.client.connection import RemoteError
from svyaz.rbac.assignment import RoleAssignment
from svyaz.rbac.roles import AUTHORITY, ROLES_REQUIRING_2FA, SECURITY_OFFICER
from svyaz.rbac.store import open_role_store
from tests.integration.access.conftest import node  # noqa: F401  (the fixture: a real in-process node)
from tests.integration.access.test_attack_script import PASSWORD, audit_entries, call_as, login, register_and_login

DAY = 86_400
BASIS = {"kind": "court_order", "number": "3/12-2026", "date": "2026-11-20",
         "issuer": "Meshchansky District Court of Moscow", "document_hash": "5e" * 32}


@dataclass
class Person:
    account: str
    tokens: dict            # a session signed in with a second factor
    password_only: dict     # the session it had before turning 2FA on
    recovery_codes: list


async def with_second_factor(node, account: str) -> Person:
    first = await register_and_login(node, account)
    enrolment = await call_as(node, first, "2fa.enable", password=PASSWORD)
    codes = (await call_as(node, first, "2fa.confirm", password=PASSWORD,
                           code=pyotp.TOTP(enrolment["secret"]).now()))["recovery_codes"]
    tokens = await login(node, account, PASSWORD, address="10.6.0.1", recovery_code=codes[0])
    assert tokens["second_factor"] == "recovery_code"
    return Person(account, tokens, first, codes[1:])


async def operator(node, *, grant: tuple[tuple[str, str], ...] = (), revoke: tuple[tuple[str, str], ...] = ()):
    """Change role assignments in the store, then wait until the node acts on them."""
    config = node.config
    async with open_role_store(config.store.url, config.store.database_prefix) as store:
        for account, role in revoke:
            await store.revoke(account, role, "ru")
        for account, role in grant:
            await store.grant(RoleAssignment(account, role, "ru", granted_by="operator"))
    await trio.sleep(0)
    expected = {account: role for account, role in grant}
    gone = {account: role for account, role in revoke}
    with trio.fail_after(20):   # the node's full reload runs every second here
        while True:
            roles = {account: set((await call_as_any(node, account))["roles"]) for account in {*expected, *gone}}
            if all(expected[a] in roles[a] for a in expected) and all(gone[a] not in roles[a] for a in gone):
                return
            await trio.sleep(0.2)


_SESSIONS: dict[str, dict] = {}


async def call_as_any(node, account: str) -> dict:
    return await call_as(node, _SESSIONS[account], "account.profile.read")


async def staff(node, *accounts_and_roles: tuple[str, str]) -> dict[str, Person]:
    people = {}
    for account, _ in accounts_and_roles:
        people[account] = await with_second_factor(node, account)
        _SESSIONS[account] = people[account].tokens
    await operator(node, grant=accounts_and_roles)
    return people


def submission(subject: str = "@ivan:ru", **changes) -> dict:
    now = time.time()
    return {"subject": subject, "categories": ["metadata", "content"], "since": now - 90 * DAY, "until": now,
            "deadline": now + 30 * DAY, "basis": BASIS, **changes}


async def refused(node, tokens: dict, action: str, **args) -> RemoteError:
    with pytest.raises(RemoteError) as error:
        await call_as(node, tokens, action, **args)
    return error.value


def test_authorities_and_officers_need_a_second_factor():
    assert {AUTHORITY, SECURITY_OFFICER} <= ROLES_REQUIRING_2FA


# --- the CLI, end to end up to approval -----------------------------------------------------------

async def svyaz(tmp_path, *args: str, stdin: str = "", check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "SVYAZ_CLIENT_DIR": str(tmp_path / "client"),
           "SVYAZ_KEYRING_PASSPHRASE": "device passphrase for tests", "SVYAZ_KEYRING_KDF_ITERATIONS": "1000",
           "SVYAZ_STATE_DIR": str(tmp_path / "state")}
    with trio.fail_after(120):
        result = await trio.run_process([sys.executable, "-m", "svyaz.cli", *args], stdin=stdin.encode(),
                                        capture_stdout=True, capture_stderr=True, env=env, check=False)
    if check:
        assert result.returncode == 0, result.stderr.decode()
    return result


async def test_submit_review_and_two_approvals_from_the_cli_audited_step_by_step(node, tmp_path):
    await register_and_login(node, "@ivan:ru")
    people = await staff(node, ("@fsb_moscow:ru", AUTHORITY), ("@alice_so:ru", SECURITY_OFFICER),
                         ("@boris_so:ru", SECURITY_OFFICER))
    for person in people.values():   # each signs in on this device with a second factor
        await svyaz(tmp_path, "login", "--account", person.account, "--node", node.url, "--recovery-code",
                    person.recovery_codes[0], "--password-stdin", stdin=PASSWORD + "\n")
    document = tmp_path / "order.pdf"
    document.write_bytes(b"%PDF-1.4 court order 3/12-2026 " * 100)
    openssl = subprocess.run(["openssl", "dgst", "-provider", "default", "-provider", "gostprov", "-md_gost12_256",
                              "-r", str(document)], capture_output=True, text=True, check=True)

    submitted = json.loads((await svyaz(
        tmp_path, "lawful", "submit", "@ivan:ru", "metadata", "content", "--since", "2026-01-01", "--until",
        "2026-06-30", "--deadline", time.strftime("%Y-%m-%d", time.gmtime(time.time() + 30 * DAY)),
        "--basis-kind", "court_order", "--basis-number", "3/12-2026", "--basis-date", "2026-11-20",
        "--basis-issuer", "Meshchansky District Court of Moscow", "--document", str(document),
        "--as", "@fsb_moscow:ru", "--json")).stdout)
    request_id = submitted["id"]

    async def lawful(*args: str, account: str, check: bool = True) -> subprocess.CompletedProcess:
        return await svyaz(tmp_path, "lawful", *args, "--as", account, "--json", check=check)

    await lawful("review", request_id, account="@alice_so:ru")
    first = json.loads((await lawful("approve", request_id, account="@alice_so:ru")).stdout)
    again = await lawful("approve", request_id, account="@alice_so:ru", check=False)
    after_again = json.loads((await lawful("show", request_id, account="@boris_so:ru")).stdout)
    second = json.loads((await lawful("approve", request_id, account="@boris_so:ru")).stdout)
    own = json.loads((await lawful("list", account="@fsb_moscow:ru")).stdout)["requests"]

    assert submitted["state"] == "submitted" and submitted["categories"] == ["metadata", "content"]
    assert submitted["basis"]["document_hash"] == openssl.stdout.split()[0]   # hashed here, as openssl does
    assert submitted["since"] == 1_767_225_600 and submitted["until"] == 1_782_864_000   # 2026-01-01 .. 07-01
    assert (first["state"], first["approvals"]) == ("in_review", 1)
    assert again.returncode == 1 and b"already" in again.stderr and b"Traceback" not in again.stderr
    assert (after_again["state"], after_again["approvals"], after_again["approved_by"]) == (
        "in_review", 1, ["@alice_so:ru"])
    assert (second["state"], second["approvals"], second["approved_by"]) == (
        "approved", 2, ["@alice_so:ru", "@boris_so:ru"])
    [mine] = own
    assert (mine["id"], mine["state"], mine["approvals"]) == (request_id, "approved", 2)
    assert "approved_by" not in mine and all("actor" not in step for step in mine["steps"])  # officers unnamed

    # Every step is in the audit log, naming the request; the chain verifies.
    steps = [(e["actor"], e["action"], e["outcome"], e["detail"].get("step"), e["detail"].get("reason"))
             for e in audit_entries(node, target=request_id)]
    assert steps == [
        ("@fsb_moscow:ru", "lawful.request.submit", "success", "submit", None),
        ("@alice_so:ru", "lawful.request.review", "success", "review", None),
        ("@alice_so:ru", "lawful.request.approve", "success", "approve", None),
        ("@alice_so:ru", "lawful.request.approve", "denied", "approve", "already_approved"),
        ("@boris_so:ru", "lawful.request.show", "success", None, None),
        ("@boris_so:ru", "lawful.request.approve", "success", "approve", None),
    ]
    # ...after the guard's `allowed` entry for each call (privileged actions).
    allowed = [e["action"] for e in audit_entries(node, outcome="allowed", action={"$regex": "^lawful"})]
    assert allowed.count("lawful.request.approve") == 3 and allowed.count("lawful.request.submit") == 1
    everything = json.dumps(audit_entries(node), default=str)
    assert BASIS["number"] not in everything and submitted["basis"]["document_hash"] not in everything
    report = await audit_verified(node, tmp_path)
    assert report["entries"] >= len(steps) + len(allowed)


async def audit_verified(node, tmp_path) -> dict:
    """`svyaz audit verify` over the node's audit log, as an auditor runs it: its report, which says ok."""
    config = node.config
    verified = await svyaz(tmp_path, "audit", "verify", "--store-url", config.store.url, "--database-prefix",
                           config.store.database_prefix, "--key-dir", str(config.data_path / "audit"), "--json")
    report = json.loads(verified.stdout)
    assert report["ok"], report
    return report


# --- the refusals the issue lists -----------------------------------------------------------------

async def test_a_foreign_subject_is_refused_with_a_referral_to_its_node(node):
    people = await staff(node, ("@fsb_tver:ru", AUTHORITY))
    authority = people["@fsb_tver:ru"].tokens

    foreign = await refused(node, authority, "lawful.request.submit", **submission("@olzhas:kz"))
    unknown = await refused(node, authority, "lawful.request.submit", **submission("@nobody_here:ru"))

    assert foreign.code == "foreign_subject" and foreign.hint == "ask the kz node"
    assert unknown.code == "unknown_subject"
    [entry] = audit_entries(node, action="lawful.request.submit", **{"detail.reason": "foreign_subject"})
    assert (entry["actor"], entry["outcome"], entry["detail"]["subject_region"]) == ("@fsb_tver:ru", "denied", "kz")
    assert node.database("compliance")["lawful_requests"].count_documents({}) == 0


async def test_an_out_of_scope_category_is_refused(node):
    await register_and_login(node, "@ivan:ru")
    people = await staff(node, ("@fsb_omsk:ru", AUTHORITY))
    authority = people["@fsb_omsk:ru"].tokens

    outside = await refused(node, authority, "lawful.request.submit",
                            **submission(categories=["metadata", "passwords"]))
    empty = await refused(node, authority, "lawful.request.submit", **submission(categories=[]))

    assert outside.code == empty.code == "out_of_scope_category"
    assert "metadata, content, media, contacts, sessions" in outside.hint
    assert len(audit_entries(node, **{"detail.reason": "out_of_scope_category"})) == 2


async def test_an_authority_without_a_second_factor_is_refused(node):
    await register_and_login(node, "@ivan:ru")
    people = await staff(node, ("@fsb_kursk:ru", AUTHORITY))
    password_only = people["@fsb_kursk:ru"].password_only   # its session from before 2FA was on

    refusal = await refused(node, password_only, "lawful.request.submit", **submission())
    listing = await refused(node, password_only, "lawful.request.list")

    assert refusal.code == listing.code == "forbidden" and "--totp" in refusal.hint
    denied = audit_entries(node, actor="@fsb_kursk:ru", outcome="denied")
    assert [e["detail"]["reason"] for e in denied] == ["second_factor_required"] * 2
    assert node.database("compliance")["lawful_requests"].count_documents({}) == 0
    # And with the second factor, the same authority may submit.
    assert (await call_as(node, people["@fsb_kursk:ru"].tokens, "lawful.request.submit", **submission()))["id"]


async def test_the_submitter_cannot_approve_even_after_becoming_an_officer(node):
    # An account cannot hold authority and security_officer at once (svyaz/rbac/roles.py), so the
    # submitter meets the approve step only after its authority role is revoked and it is made an
    # officer: the four-eyes rule is on the account, not the role.
    await register_and_login(node, "@ivan:ru")
    people = await staff(node, ("@turncoat:ru", AUTHORITY), ("@alice_so:ru", SECURITY_OFFICER))
    submitter, alice = people["@turncoat:ru"].tokens, people["@alice_so:ru"].tokens
    request_id = (await call_as(node, submitter, "lawful.request.submit", **submission()))["id"]
    await call_as(node, alice, "lawful.request.review", id=request_id)

    await operator(node, revoke=(("@turncoat:ru", AUTHORITY),), grant=(("@turncoat:ru", SECURITY_OFFICER),))
    before = await refused(node, submitter, "lawful.request.approve", id=request_id)
    await call_as(node, alice, "lawful.request.approve", id=request_id)
    after = await refused(node, submitter, "lawful.request.approve", id=request_id)
    shown = await call_as(node, alice, "lawful.request.show", id=request_id)

    assert before.code == after.code == "submitter_cannot_approve"
    assert (shown["state"], shown["approved_by"]) == ("in_review", ["@alice_so:ru"])
    assert len(audit_entries(node, target=request_id, **{"detail.reason": "submitter_cannot_approve"})) == 2


async def test_an_expired_request_takes_no_step(node):
    await register_and_login(node, "@ivan:ru")
    people = await staff(node, ("@fsb_perm:ru", AUTHORITY), ("@alice_so:ru", SECURITY_OFFICER),
                         ("@boris_so:ru", SECURITY_OFFICER))
    authority, alice, boris = (people[a].tokens for a in ("@fsb_perm:ru", "@alice_so:ru", "@boris_so:ru"))
    deadline = time.time() + 6
    request_id = (await call_as(node, authority, "lawful.request.submit", **submission(deadline=deadline)))["id"]
    await call_as(node, alice, "lawful.request.review", id=request_id)
    await call_as(node, alice, "lawful.request.approve", id=request_id)
    await trio.sleep(max(0.0, deadline - time.time()) + 0.2)

    late = await refused(node, boris, "lawful.request.approve", id=request_id)
    shown = await call_as(node, authority, "lawful.request.show", id=request_id)
    listed = await call_as(node, alice, "lawful.request.list", state="expired")

    assert late.code == "request_expired"
    assert shown["state"] == "expired" and [s["step"] for s in shown["steps"]] == ["review", "approve", "expire"]
    assert [r["id"] for r in listed["requests"]] == [request_id]
    [expiry] = audit_entries(node, action="lawful.request.expire")
    assert (expiry["actor"], expiry["target"], expiry["detail"]["was"]) == ("node:ru", request_id, "in_review")


async def test_an_authority_sees_only_its_own_requests(node):
    await register_and_login(node, "@ivan:ru")
    people = await staff(node, ("@fsb_orel:ru", AUTHORITY), ("@mvd_orel:ru", AUTHORITY),
                         ("@alice_so:ru", SECURITY_OFFICER))
    fsb, mvd, alice = (people[a].tokens for a in ("@fsb_orel:ru", "@mvd_orel:ru", "@alice_so:ru"))
    request_id = (await call_as(node, fsb, "lawful.request.submit", **submission()))["id"]

    hidden = await refused(node, mvd, "lawful.request.show", id=request_id)
    mvd_list = await call_as(node, mvd, "lawful.request.list")
    officer_list = await call_as(node, alice, "lawful.request.list")
    not_theirs = await refused(node, fsb, "lawful.request.review", id=request_id)
    plain_user = await refused(node, (await register_and_login(node, "@curious:ru")), "lawful.request.list")

    assert hidden.code == "unknown_request" and mvd_list == {"requests": []}
    assert [r["id"] for r in officer_list["requests"]] == [request_id]
    assert not_theirs.code == "forbidden"   # the guard: review is not an authority's action
    assert plain_user.code == "forbidden"
