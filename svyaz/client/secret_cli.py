"""`svyaz secret ...`: end-to-end encrypted chats from the command line.

A secret chat lives on this device: its keys and the messages it has opened are in the device's
vault (svyaz.client.secret_vault), and the node sees only sealed envelopes. Compare the safety
number (`svyaz secret safety CHAT`) with the other person, in person or over a call, to be sure
no one sits between you.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from svyaz.client.chat_cli import _day_clock, _me, _text
from svyaz.client.cli import _as_arg, _book, _command
from svyaz.client.messaging import REPORT_REASONS, Messenger
from svyaz.client.secret import SecretChats, held_chats, policy_in, safety_number_in
from svyaz.client.secret_groups import SecretGroups, group_policy_in, held_groups, is_group
from svyaz.client.secret_vault import SecretVault
from svyaz.client.session import open_account_client
from svyaz.e2e import escrow
from svyaz.errors import SvyazError
from svyaz.gost.keys import PrivateKey


def register(commands: argparse._SubParsersAction) -> None:
    secret = commands.add_parser("secret", help="end-to-end encrypted chats (GOST): set-up, start, group, send, "
                                                "read, safety, report, list")
    actions = secret.add_subparsers(dest="secret_action", required=True, metavar="ACTION")
    _as_arg(_command(actions, "set-up", "make this device's secret-chat keys and publish the public halves",
                     _set_up))
    start = _command(actions, "start", "start a secret chat with an account (it must have set up its keys)", _start)
    start.add_argument("account", metavar="ACCOUNT", help="e.g. @bob:ru")
    _as_arg(start)
    group = actions.add_parser("group", help="secret groups (up to 50 members)")
    group_actions = group.add_subparsers(dest="secret_group_action", required=True, metavar="ACTION")
    create = _command(group_actions, "create", "create a secret group; its members must have run `secret set-up`",
                      _group_create)
    create.add_argument("title", metavar="TITLE")
    create.add_argument("members", metavar="MEMBER", nargs="*", help="e.g. @bob:ru @carol:ru")
    _as_arg(create)
    send = _command(actions, "send", "seal and send a message into a secret chat or secret group", _send)
    send.add_argument("chat", metavar="CHAT", help="a secret chat id, sc/..., or a secret group's, g/...")
    send.add_argument("text", metavar="TEXT", help='the message ("-" reads it from stdin)')
    _as_arg(send)
    read = _command(actions, "read", "fetch, open and show a secret chat", _read)
    read.add_argument("chat", metavar="CHAT")
    _as_arg(read)
    safety = _command(actions, "safety", "the safety number to compare with the other person", _safety)
    safety.add_argument("chat", metavar="CHAT")
    _as_arg(safety)
    report = _command(actions, "report", "reveal one message you received to the moderators", _report)
    report.add_argument("chat", metavar="CHAT")
    report.add_argument("seq", metavar="SEQ", type=int)
    report.add_argument("--reason", required=True, choices=REPORT_REASONS)
    report.add_argument("--note", help="what happened, in your words")
    _as_arg(report)
    _as_arg(_command(actions, "list", "the secret chats this device holds", _list))
    keygen = _command(actions, "escrow-keygen",
                      "(operator) make a region's escrow key: the public key for policies/, and one share per "
                      "officer, any THRESHOLD of which rebuild the private key; the private key is never written",
                      _escrow_keygen)
    keygen.add_argument("--region", required=True)
    keygen.add_argument("--officer", dest="officers", action="append", required=True, metavar="ACCOUNT",
                        help="a security officer to receive a share (repeat)")
    keygen.add_argument("--threshold", type=int, required=True, help="how many shares open a message key")
    keygen.add_argument("--out", type=Path, required=True, help="a new directory for the public key and shares")


async def _with_secret_groups(args: argparse.Namespace, use) -> Any:
    return await _with_secret_chats(args, lambda chats: use(SecretGroups(chats)))


async def _group_create(args: argparse.Namespace) -> Any:
    async def create(groups: SecretGroups) -> dict[str, Any]:
        chat = await groups.create(args.title, args.members)
        return {"chat": chat, "policy": group_policy_in(groups.vault.load(), chat)}

    created = await _with_secret_groups(args, create)
    if args.json:
        return created
    return (f"secret group {created['chat']} ({args.title})\n"
            f"policy: {_POLICY_TEXT[created['policy']]}\n"
            "each member's device gets your key, over your 1:1 secret chat with them, when you first send")


async def _with_secret_chats(args: argparse.Namespace, use) -> Any:
    book = _book()
    me = _me(book, args)
    async with open_account_client(book, me) as client:
        return await use(SecretChats(Messenger(client, account=me), SecretVault(book.directory, me, book.secrets),
                                     me=me))


async def _set_up(args: argparse.Namespace) -> Any:
    held = await _with_secret_chats(args, lambda chats: chats.set_up())
    return {"one_time_prekeys": held} if args.json else f"secret chats ready: the node holds {held} one-time prekeys"


async def _start(args: argparse.Namespace) -> Any:
    async def start(chats: SecretChats) -> dict[str, Any]:
        chat = await chats.start(args.account)
        return {"chat": chat, "safety_number": chats.safety_number(chat), "policy": policy_in(chats.vault, chats.me, chat)}

    started = await _with_secret_chats(args, start)
    if args.json:
        return started
    return (f"secret chat {started['chat']} with {args.account}\n"
            f"policy: {_POLICY_TEXT[started['policy']]}\n"
            f"safety number (compare it with {args.account}): {started['safety_number']}")


async def _send(args: argparse.Namespace) -> Any:
    text = _text(args.text)
    if is_group(args.chat):
        ack = await _with_secret_groups(args, lambda groups: groups.send(args.chat, text))
    else:
        ack = await _with_secret_chats(args, lambda chats: chats.send(args.chat, text))
    return ack if args.json else f"sent (sealed) as #{ack['seq']}"


async def _read(args: argparse.Namespace) -> Any:
    book = _book()
    vault = SecretVault(book.directory, _me(book, args), book.secrets)
    if is_group(args.chat):
        transcript = await _with_secret_groups(args, lambda groups: groups.receive(args.chat))
        policy = group_policy_in(vault.load(), args.chat)
    else:
        transcript = await _with_secret_chats(args, lambda chats: chats.receive(args.chat))
        policy = policy_in(vault, _me(book, args), args.chat)
    if args.json:
        return {"chat": args.chat, "policy": policy,
                "messages": [{k: v for k, v in entry.items() if k != "franking_key"} for entry in transcript]}
    return "\n".join([f"policy: {_POLICY_TEXT[policy]}", *(_line(entry) for entry in transcript)])


_POLICY_TEXT = {
    "strict": "strict — only your two devices can read this chat",
    "escrow": "escrow — your region keeps a lawful-access copy of each message key; opening one takes "
              "a court-backed request and two security officers' approvals",
}


async def _escrow_keygen(args: argparse.Namespace) -> Any:
    written = write_escrow_key(args.out, args.region, args.officers, args.threshold)
    if args.json:
        return written
    return "\n".join([
        f"escrow key {written['key_id']} for region {args.region}: any {args.threshold} of "
        f"{len(args.officers)} shares open it",
        f"public key: {written['public_key']}  (point policies/secret-chats.toml at it, mode = \"escrow\")",
        *(f"share for {officer}: {path}  (hand it to that officer; delete it here)"
          for officer, path in written["shares"].items()),
    ])


def write_escrow_key(out: Path, region: str, officers: list[str], threshold: int) -> dict[str, Any]:
    """The public key and one 0600 share file per officer in `out` (which must not exist yet)."""
    if len(set(officers)) != len(officers):
        raise SvyazError("each officer gets one share: an officer is named twice")
    key = PrivateKey.generate(escrow.CURVE)
    shares = escrow.split(key, threshold=threshold, shares=len(officers))
    try:
        out.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        raise SvyazError(f"{out} exists; escrow shares go to a new directory, so none is overwritten") from None
    public_path = out / f"escrow-{region}.pub.pem"
    public_path.write_bytes(key.public_key().to_pem())
    written = {}
    for officer, share in zip(officers, shares):
        path = out / f"escrow-{region}-share-{share.x}.json"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump({"region": region, "officer": officer, **share.to_dict()}, file)
        written[officer] = str(path)
    return {"key_id": escrow.key_id(key.public_key()), "public_key": str(public_path), "shares": written}


def _line(entry: dict[str, Any]) -> str:
    head = f"#{entry['seq'] or '?'} {_day_clock(entry.get('sent_at'))} {entry['sender']}:"
    if entry.get("deleted"):
        return f"{head} (deleted)"
    if entry.get("pending"):
        return f"{head} (waiting for the sender's key: read again later)"
    if entry.get("error"):
        return f"{head} (could not open: {entry['error']})"
    return f"{head} {entry['text']}"


async def _safety(args: argparse.Namespace) -> Any:
    if is_group(args.chat):
        raise SvyazError("a secret group has no safety number of its own",
                         hint="compare the safety number of your 1:1 secret chat with each member "
                              "(`svyaz secret list`, then `svyaz secret safety sc/...`)")
    book = _book()
    me = _me(book, args)
    number = safety_number_in(SecretVault(book.directory, me, book.secrets), me, args.chat)
    return {"chat": args.chat, "safety_number": number} if args.json else number


async def _report(args: argparse.Namespace) -> Any:
    if is_group(args.chat):
        report = await _with_secret_groups(
            args, lambda groups: groups.report(args.chat, args.seq, reason=args.reason, note=args.note))
    else:
        report = await _with_secret_chats(
            args, lambda chats: chats.report(args.chat, args.seq, reason=args.reason, note=args.note))
    return {"report": report} if args.json else f"reported message #{args.seq}: report {report}"


async def _list(args: argparse.Namespace) -> Any:
    book = _book()
    me = _me(book, args)
    vault = SecretVault(book.directory, me, book.secrets)
    chats = held_chats(vault) + held_groups(vault.load())
    return {"chats": chats} if args.json else ("\n".join(chats) or "no secret chats on this device")
