"""Scriptable safety commands: block, unblock, blocked, report, presence.

A blocked account's private messages to you are refused (it is told so) and your presence is
hidden from it; groups are unaffected. A report names an account, a reason and, as evidence, up to
20 of its messages you can see (`--message CHAT:SEQ`, the chat as an id or a peer): the node keeps
copies for the moderators. Each command acts as the device's current account, or another one with
`--as`; `--json` prints the node's data.
"""

from __future__ import annotations

import argparse
from typing import Any

from svyaz.client.chat_cli import _day_clock, _me
from svyaz.client.cli import _as_arg, _book, _command
from svyaz.client.messaging import REPORT_REASONS, Messenger, chat_for, parse_message_ref
from svyaz.client.session import open_account_client
from svyaz.errors import SvyazError

MAX_EVIDENCE = 20


def register(commands: argparse._SubParsersAction) -> None:
    block = _command(commands, "block", "refuse an account's private messages and hide your presence from it",
                     _block)
    _account_arg(block)
    _as_arg(block)
    unblock = _command(commands, "unblock", "accept an account's messages again", _unblock)
    _account_arg(unblock)
    _as_arg(unblock)
    _as_arg(_command(commands, "blocked", "the accounts you block", _blocked))

    report = _command(commands, "report", "report an account to the moderators, with its messages as evidence",
                      _report)
    _account_arg(report)
    report.add_argument("--reason", required=True, choices=REPORT_REASONS)
    report.add_argument("--note", help="what happened, in your words (at most 1000 characters)")
    report.add_argument("--message", dest="messages", action="append", default=[], metavar="CHAT:SEQ",
                        help="one of its messages, e.g. @bob:ru:3 or g/ru/<id>:12 (repeat, up to 20)")
    _as_arg(report)

    presence = _command(commands, "presence", "whether an account is online, or when it was last seen", _presence)
    _account_arg(presence)
    _as_arg(presence)


def _account_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("account", metavar="ACCOUNT", help="e.g. @bob:ru")


def message_refs(me: str, values: list[str]) -> list[tuple[str, int]]:
    """`--message` values -> (chat id, seq), the chat named by id or by peer; SvyazError if any is
    malformed or there are too many, before anything is sent."""
    if len(values) > MAX_EVIDENCE:
        raise SvyazError(f"{len(values)} messages given; a report takes at most {MAX_EVIDENCE}")
    refs = []
    for value in values:
        chat, seq = parse_message_ref(value)
        refs.append((chat_for(me, chat), seq))
    return refs


# --- commands ---------------------------------------------------------------------------------------

async def _block(args: argparse.Namespace) -> Any:
    book = _book()
    me = _me(book, args)
    async with open_account_client(book, me) as client:
        blocked = await Messenger(client, account=me).block(args.account)
    return {"blocked": blocked} if args.json else f"blocked {blocked}: its messages to you are refused"


async def _unblock(args: argparse.Namespace) -> Any:
    book = _book()
    me = _me(book, args)
    async with open_account_client(book, me) as client:
        unblocked = await Messenger(client, account=me).unblock(args.account)
    if args.json:
        return {"account": args.account, "unblocked": unblocked}
    return f"unblocked {args.account}" if unblocked else f"{args.account} was not blocked"


async def _blocked(args: argparse.Namespace) -> Any:
    book = _book()
    me = _me(book, args)
    async with open_account_client(book, me) as client:
        accounts = await Messenger(client, account=me).blocked()
    return {"accounts": accounts} if args.json else ("\n".join(accounts) or "you block nobody")


async def _report(args: argparse.Namespace) -> Any:
    book = _book()
    me = _me(book, args)
    refs = message_refs(me, args.messages)
    async with open_account_client(book, me) as client:
        report = await Messenger(client, account=me).report(args.account, args.reason, note=args.note, messages=refs)
    if args.json:
        return {"report": report}
    evidence = f" with {len(refs)} message{'' if len(refs) == 1 else 's'}" if refs else ""
    return f"reported {args.account} for {args.reason}{evidence}: report {report}"


async def _presence(args: argparse.Namespace) -> Any:
    book = _book()
    me = _me(book, args)
    async with open_account_client(book, me) as client:
        presence = await Messenger(client, account=me).presence(args.account)
    return presence if args.json else describe_presence(presence)


def describe_presence(presence: dict[str, Any]) -> str:
    account = presence.get("account")
    if not presence.get("visible"):
        return f"{account}: hidden from you"
    if presence.get("online"):
        return f"{account}: online"
    if presence.get("last_seen"):
        return f"{account}: last seen {_day_clock(presence['last_seen'])}"
    return f"{account}: not seen online yet"
