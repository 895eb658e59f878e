"""The scriptable CLI against a real node: two accounts on one device, switching, 2FA, sessions."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pyotp
import trio

PASSWORD = "amber river compass 19"


async def svyaz(tmp_path, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    # A cheap work factor for the sealed tokens file, as the node's tests lower password hashing.
    env = {**os.environ, "SVYAZ_CLIENT_DIR": str(tmp_path / "client"),
           "SVYAZ_KEYRING_PASSPHRASE": "device passphrase for tests", "SVYAZ_KEYRING_KDF_ITERATIONS": "1000"}
    with trio.fail_after(60):
        result = await trio.run_process([sys.executable, "-m", "svyaz.cli", *args], stdin=(stdin or "").encode(),
                                        capture_stdout=True, capture_stderr=True, env=env, check=False)
    if check:
        assert result.returncode == 0, result.stderr.decode()
    return result


def output(result) -> dict | list:
    return json.loads(result.stdout)


async def test_two_accounts_on_one_device_switch_and_are_removed(node, tmp_path):
    await svyaz(tmp_path, "account", "register", "--account", "@gleb:ru", "--node", node.url,
                "--password-stdin", stdin=PASSWORD + "\n")
    # A second account, created while signed in to the first.
    await svyaz(tmp_path, "account", "register", "--account", "@gleb_work:ru", "--node", node.url,
                "--password-stdin", stdin=PASSWORD + "\n")

    listed = output(await svyaz(tmp_path, "account", "list", "--json"))
    assert [(a["account"], a["current"]) for a in listed] == [("@gleb:ru", False), ("@gleb_work:ru", True)]
    assert output(await svyaz(tmp_path, "account", "show", "--json"))["account"] == "@gleb_work:ru"

    await svyaz(tmp_path, "account", "use", "@gleb:ru")
    assert output(await svyaz(tmp_path, "account", "show", "--json"))["account"] == "@gleb:ru"

    await svyaz(tmp_path, "account", "remove", "@gleb_work:ru")
    assert [a["account"] for a in output(await svyaz(tmp_path, "account", "list", "--json"))] == ["@gleb:ru"]
    assert b"access" not in (tmp_path / "client" / "accounts.json").read_bytes()


async def test_2fa_from_the_cli_then_login_needs_the_code(node, tmp_path):
    await svyaz(tmp_path, "account", "register", "--account", "@hanna:ru", "--node", node.url,
                "--password-stdin", stdin=PASSWORD + "\n")
    enrolment = output(await svyaz(tmp_path, "2fa", "enable", "--json", "--password-stdin", stdin=PASSWORD + "\n"))
    totp = pyotp.TOTP(enrolment["secret"])
    confirmed = output(await svyaz(tmp_path, "2fa", "confirm", "--code", totp.now(), "--json",
                                   "--password-stdin", stdin=PASSWORD + "\n"))
    assert len(confirmed["recovery_codes"]) == 10

    refused = await svyaz(tmp_path, "login", "--account", "@hanna:ru", "--node", node.url, "--password-stdin",
                          stdin=PASSWORD + "\n", check=False)
    with_recovery = await svyaz(tmp_path, "login", "--account", "@hanna:ru", "--node", node.url,
                                "--recovery-code", confirmed["recovery_codes"][0], "--json", "--password-stdin",
                                stdin=PASSWORD + "\n")

    assert refused.returncode == 1 and b"error:" in refused.stderr and b"Traceback" not in refused.stderr
    assert output(with_recovery)["recovery_codes_left"] == 9


async def test_sessions_list_and_sign_out_the_others(node, tmp_path):
    await svyaz(tmp_path, "account", "register", "--account", "@ivan:ru", "--node", node.url,
                "--password-stdin", stdin=PASSWORD + "\n")
    await svyaz(tmp_path, "login", "--account", "@ivan:ru", "--node", node.url, "--device", "laptop",
                "--password-stdin", stdin=PASSWORD + "\n")

    before = output(await svyaz(tmp_path, "sessions", "list", "--json"))["sessions"]
    await svyaz(tmp_path, "sessions", "revoke", "--others")
    after = output(await svyaz(tmp_path, "sessions", "list", "--json"))["sessions"]

    assert len(before) == 2
    assert [s["current"] for s in after] == [True]


async def test_a_missing_password_is_a_clear_error_not_a_prompt(node, tmp_path):
    result = await svyaz(tmp_path, "login", "--account", "@nobody:ru", "--node", node.url, check=False)

    assert result.returncode == 1
    assert b"--password-stdin" in result.stderr


async def test_a_password_change_signs_out_the_other_sessions(node, tmp_path):
    await svyaz(tmp_path, "account", "register", "--account", "@julia:ru", "--node", node.url,
                "--password-stdin", stdin=PASSWORD + "\n")
    await svyaz(tmp_path, "login", "--account", "@julia:ru", "--node", node.url, "--device", "phone",
                "--password-stdin", stdin=PASSWORD + "\n")
    other_device = tmp_path / "other"
    await svyaz(other_device, "login", "--account", "@julia:ru", "--node", node.url, "--device", "tablet",
                "--password-stdin", stdin=PASSWORD + "\n")

    await svyaz(tmp_path, "account", "password", "--password-stdin", stdin=f"{PASSWORD}\nnew granite meadow 31\n")

    sessions = output(await svyaz(tmp_path, "sessions", "list", "--json"))["sessions"]
    assert [s["current"] for s in sessions] == [True]
    old = await svyaz(tmp_path, "login", "--account", "@julia:ru", "--node", node.url, "--password-stdin",
                      stdin=PASSWORD + "\n", check=False)
    assert old.returncode == 1
    await svyaz(tmp_path, "login", "--account", "@julia:ru", "--node", node.url, "--password-stdin",
                stdin="new granite meadow 31\n")


async def test_a_profile_is_edited_from_the_cli_and_a_bad_edit_changes_nothing(node, tmp_path):
    await svyaz(tmp_path, "account", "register", "--account", "@irina:ru", "--node", node.url,
                "--password-stdin", stdin=PASSWORD + "\n")
    edited = output(await svyaz(tmp_path, "account", "edit", "--display-name", "Ирина", "--presence", "contacts",
                                "--json"))
    refused = await svyaz(tmp_path, "account", "edit", "--display-name", "Ири\u202eна", "--about", "fine", check=False)
    shown = output(await svyaz(tmp_path, "account", "show", "--json"))

    assert (edited["display_name"], edited["presence"]) == ("Ирина", "contacts")
    assert refused.returncode == 1 and b"display_name contains control" in refused.stderr
    assert (shown["display_name"], shown["about"], shown["presence"]) == ("Ирина", "", "contacts")
    entries = list(node.database("compliance")["audit"].find({"action": "account.profile.update"}).sort("seq", 1))
    assert [(e["outcome"], e["detail"].get("fields"), e["detail"].get("reason")) for e in entries] == [
        ("success", "display_name,presence", None), ("failure", None, "invalid_profile")]
    assert "Ирина" not in str(entries)  # the audit log names the fields, never their values
