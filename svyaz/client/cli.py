"""Scriptable client commands: accounts on this device, sign-in, 2FA, sessions, roles.

Every command works without a prompt: passwords come from stdin (`--password-stdin`, first line)
or, only at a terminal, from a hidden prompt; `--json` prints the node's answer as JSON.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio

from svyaz.client.accounts import AccountBook, default_directory, default_secret_store
from svyaz.client.connection import open_node_client
from svyaz.client.session import node_url_for, open_account_client, tokens_from
from svyaz.errors import SvyazError


def register(commands: argparse._SubParsersAction) -> None:
    account = commands.add_parser("account", help="accounts on this device: register, add, list, use, remove, "
                                                   "show, edit, password")
    account_actions = account.add_subparsers(dest="account_action", required=True, metavar="ACTION")
    reg = _command(account_actions, "register", "create an account on its home node, then sign in to it", _register)
    _account_arg(reg)
    _password_args(reg)
    reg.add_argument("--no-login", action="store_true", help="only create the account")
    add = _command(account_actions, "add", "sign in to an existing account and keep it on this device", _login)
    _login_args(add)
    _command(account_actions, "list", "accounts on this device; * marks the current one", _list)
    use = _command(account_actions, "use", "make an account on this device the current one", _use)
    use.add_argument("account")
    remove = _command(account_actions, "remove", "sign out an account and forget it on this device", _remove)
    remove.add_argument("account")
    profile = _command(account_actions, "show", "the current account as the node sees it", _profile)
    _as_arg(profile)
    edit = _command(account_actions, "edit", "change your profile: display name, about, who sees your presence",
                    _edit_profile)
    edit.add_argument("--display-name")
    edit.add_argument("--about")
    edit.add_argument("--presence", choices=("everyone", "contacts", "nobody"),
                      help="who may see when you were last online")
    _as_arg(edit)
    password = _command(account_actions, "password",
                        "change the password: stdin gives the current one, then the new one", _change_password)
    _password_args(password)
    _as_arg(password)
    export = _command(account_actions, "export", "download everything your home node holds about you "
                                                 "(profile, sessions, contacts, messages) into a JSON file", _export)
    export.add_argument("--out", required=True, type=Path, metavar="FILE", help="where to write it (mode 0600)")
    _as_arg(export)

    login = _command(commands, "login", "sign in (same as `account add`)", _login)
    _login_args(login)

    twofa = commands.add_parser("2fa", help="two-factor authentication (TOTP)")
    twofa_actions = twofa.add_subparsers(dest="twofa_action", required=True, metavar="ACTION")
    enable = _command(twofa_actions, "enable", "start TOTP enrolment: shows the secret and a QR code", _enable_2fa)
    _password_args(enable)
    _as_arg(enable)
    confirm = _command(twofa_actions, "confirm", "finish enrolment with a first code; shows recovery codes",
                       _confirm_2fa)
    confirm.add_argument("--code", required=True)
    _password_args(confirm)
    _as_arg(confirm)
    disable = _command(twofa_actions, "disable", "turn TOTP off (needs a current code)", _disable_2fa)
    disable.add_argument("--code", required=True)
    _password_args(disable)
    _as_arg(disable)

    sessions = commands.add_parser("sessions", help="your signed-in sessions")
    session_actions = sessions.add_subparsers(dest="sessions_action", required=True, metavar="ACTION")
    _as_arg(_command(session_actions, "list", "list your sessions", _list_sessions))
    revoke = _command(session_actions, "revoke", "end one session, or all others with --others", _revoke_session)
    revoke.add_argument("session_id", nargs="?")
    revoke.add_argument("--others", action="store_true")
    _as_arg(revoke)

    role = commands.add_parser("role", help="grant, revoke and list roles (admins; auditors may list)")
    role_actions = role.add_subparsers(dest="role_action", required=True, metavar="ACTION")
    for name, handler in (("grant", _grant), ("revoke", _revoke_role)):
        sub = _command(role_actions, name, f"{name} a role", handler)
        sub.add_argument("--account", required=True)
        sub.add_argument("--role", required=True)
        sub.add_argument("--region")
        _as_arg(sub)
    listing = _command(role_actions, "list", "who holds which role", _list_roles)
    listing.add_argument("--account")
    listing.add_argument("--region")
    _as_arg(listing)


# --- argument helpers -------------------------------------------------------------------------------

def _command(actions, name: str, help_text: str, handler: Callable[[argparse.Namespace], Awaitable[Any]]):
    parser = actions.add_parser(name, help=help_text, description=help_text)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(handler=lambda args: _run(handler, args))
    return parser


def _account_arg(parser) -> None:
    parser.add_argument("--account", required=True, help="e.g. @alice:ru")
    parser.add_argument("--node", help="the node's WebSocket URL (default: the region's local node)")


def _password_args(parser) -> None:
    parser.add_argument("--password-stdin", action="store_true", help="read the password from stdin's first line")


def _login_args(parser) -> None:
    _account_arg(parser)
    _password_args(parser)
    parser.add_argument("--totp", help="the current code of your authenticator app")
    parser.add_argument("--recovery-code", help="a one-time recovery code instead of --totp")
    parser.add_argument("--device", default="cli", help="a name for this device in the session list")


def _as_arg(parser) -> None:
    parser.add_argument("--as", dest="as_account", help="act as this account on the device (default: current)")


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("password: ")
    else:
        raise SvyazError("no password given", hint="pass --password-stdin and write the password to stdin")
    if not password:
        raise SvyazError("the password is empty")
    return password


def _book() -> AccountBook:
    directory = default_directory()
    return AccountBook(directory, default_secret_store(directory))


def _run(handler: Callable[[argparse.Namespace], Awaitable[Any]], args: argparse.Namespace) -> int:
    result = trio.run(handler, args)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    elif isinstance(result, str):
        print(result)
    return 0


# --- accounts and sign-in ---------------------------------------------------------------------------

async def _register(args: argparse.Namespace) -> Any:
    password = _password(args)
    url = args.node or node_url_for(args.account)
    async with open_node_client(url) as client:
        created = await client.call("account.register", account=args.account, password=password)
        if args.no_login:
            return created if args.json else f"registered {created['account']}"
        result = await client.call("auth.login", account=created["account"], password=password, device="cli")
    _book().add(result["account"], url, tokens_from(result))
    return _public(result) if args.json else f"registered {result['account']}; signed in and now current"


async def _login(args: argparse.Namespace) -> Any:
    password = _password(args)
    url = args.node or node_url_for(args.account)
    async with open_node_client(url) as client:
        result = await client.call("auth.login", account=args.account, password=password, totp_code=args.totp,
                                   recovery_code=args.recovery_code, device=args.device)
    _book().add(result["account"], url, tokens_from(result))
    if args.json:
        return _public(result)
    note = f" ({result['recovery_codes_left']} recovery codes left)" if result.get("recovery_codes_left") is not None else ""
    return f"signed in as {result['account']}; now the current account{note}"


async def _list(args: argparse.Namespace) -> Any:
    entries = _book().entries()
    if args.json:
        return [{"account": e.account, "node": e.node_url, "current": e.current} for e in entries]
    return "\n".join(f"{'*' if e.current else ' '} {e.account}  {e.node_url}" for e in entries) or "no accounts yet"


async def _use(args: argparse.Namespace) -> Any:
    _book().use(args.account)
    return {"current": args.account} if args.json else f"now using {args.account}"


async def _remove(args: argparse.Namespace) -> Any:
    book = _book()
    signed_out = False
    try:
        async with open_account_client(book, args.account) as client:
            await client.call("sessions.revoke", session_id=book.tokens(args.account).session_id)
            signed_out = True
    except SvyazError:
        pass  # forgetting the account on this device must work even when its node is away
    book.remove(args.account)
    if args.json:
        return {"removed": args.account, "signed_out": signed_out}
    return f"removed {args.account}" + ("" if signed_out else " (its node could not be reached to sign out)")


async def _profile(args: argparse.Namespace) -> Any:
    async with open_account_client(_book(), args.as_account) as client:
        profile = await client.call("account.profile.read")
    if args.json:
        return profile
    roles = ", ".join(profile["roles"]) or "none granted"
    name = f"{profile['display_name']} " if profile["display_name"] else ""
    return (f"{name}{profile['account']} (region {profile['region']}): roles {roles}; "
            f"2FA {'on' if profile['two_factor'] else 'off'}; presence visible to {profile['presence']}")


async def _edit_profile(args: argparse.Namespace) -> Any:
    changes = {name: value for name, value in (("display_name", args.display_name), ("about", args.about),
                                               ("presence", args.presence)) if value is not None}
    if not changes:
        raise SvyazError("nothing to change", hint="pass --display-name, --about or --presence")
    async with open_account_client(_book(), args.as_account) as client:
        profile = await client.call("account.profile.update", **changes)
    return profile if args.json else f"profile of {profile['account']} updated"


async def _change_password(args: argparse.Namespace) -> Any:
    current = _password(args)
    new = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("new password: ")
    if not new:
        raise SvyazError("no new password given", hint="write the current and the new password on two lines of stdin")
    async with open_account_client(_book(), args.as_account) as client:
        await client.call("account.password.change", password=current, new_password=new)
    return {"changed": True} if args.json else "password changed; your other sessions were signed out"


async def _export(args: argparse.Namespace) -> Any:
    from svyaz.client.own_data import download, write_private

    async with open_account_client(_book(), args.as_account) as client:
        export = await download(client)
    write_private(args.out, export)
    summary = {"account": export["account"], "file": str(args.out), "counts": export["counts"]}
    if args.json:
        return summary
    counts = ", ".join(f"{name} {count}" for name, count in export["counts"].items())
    return f"wrote everything held about {export['account']} to {args.out}: {counts}"


# --- 2FA -------------------------------------------------------------------------------------------

async def _enable_2fa(args: argparse.Namespace) -> Any:
    password = _password(args)
    async with open_account_client(_book(), args.as_account) as client:
        enrolment = await client.call("2fa.enable", password=password)
    if args.json:
        return enrolment
    return (f"{enrolment['qr']}\nAdd this to your authenticator app (or enter the secret {enrolment['secret']}),\n"
            f"then: svyaz 2fa confirm --code CODE --password-stdin")


async def _confirm_2fa(args: argparse.Namespace) -> Any:
    password = _password(args)
    async with open_account_client(_book(), args.as_account) as client:
        result = await client.call("2fa.confirm", password=password, code=args.code)
    if args.json:
        return result
    return "two-factor authentication is on. Recovery codes, each usable once — keep them offline:\n  " + \
        "\n  ".join(result["recovery_codes"])


async def _disable_2fa(args: argparse.Namespace) -> Any:
    password = _password(args)
    async with open_account_client(_book(), args.as_account) as client:
        await client.call("2fa.disable", password=password, code=args.code)
    return {"two_factor": False} if args.json else "two-factor authentication is off"


# --- sessions --------------------------------------------------------------------------------------

async def _list_sessions(args: argparse.Namespace) -> Any:
    async with open_account_client(_book(), args.as_account) as client:
        result = await client.call("sessions.list")
    if args.json:
        return result
    return "\n".join(f"{'*' if s['current'] else ' '} {s['session_id']}  {s['device'] or '-'}  {s['address']}"
                     for s in result["sessions"])


async def _revoke_session(args: argparse.Namespace) -> Any:
    if not args.others and not args.session_id:
        raise SvyazError("name a session to end, or pass --others", hint="svyaz sessions list")
    async with open_account_client(_book(), args.as_account) as client:
        if args.others:
            result = await client.call("sessions.revoke", others=True)
        else:
            result = await client.call("sessions.revoke", session_id=args.session_id)
    return result if args.json else f"ended {result['revoked']} session(s)"


# --- roles -----------------------------------------------------------------------------------------

async def _grant(args: argparse.Namespace) -> Any:
    async with open_account_client(_book(), args.as_account) as client:
        result = await client.call("role.grant", account=args.account, role=args.role, region=args.region)
    return result if args.json else f"granted {result['role']} to {result['account']} in {result['region']}"


async def _revoke_role(args: argparse.Namespace) -> Any:
    async with open_account_client(_book(), args.as_account) as client:
        result = await client.call("role.revoke", account=args.account, role=args.role, region=args.region)
    return result if args.json else ("revoked" if result["revoked"] else "the account did not hold that role")


async def _list_roles(args: argparse.Namespace) -> Any:
    async with open_account_client(_book(), args.as_account) as client:
        result = await client.call("role.list", account=args.account, region=args.region)
    if args.json:
        return result
    return "\n".join(f"{a['account']}  {a['role']}  {a['region']}" for a in result["assignments"]) or "no roles granted"


def _public(result: dict) -> dict:
    """What --json shows after sign-in: never the tokens, which stay in the keyring."""
    return {key: value for key, value in result.items() if key not in ("access_token", "refresh_token")}
