"""`svyaz lawful submit|list|show|review|approve|reject|close`: the request workflow from the
command line, for authorities and security officers (docs/compliance.md, "The request workflow").

Each command signs in as the device's current account (or `--as ACCOUNT`) with its stored tokens,
like every client command (`svyaz login --totp CODE` first: both roles act only in sessions signed
in with a second factor), and calls the node's `lawful.request.*` actions; `--json` prints the
node's answer.

`submit --document FILE` hashes the legal basis document here, with Streebog-256 (the same digest
as `openssl dgst -provider default -provider gostprov -md_gost12_256 FILE`); only the hash goes to the node, the
document never leaves the authority's machine.

Times: `--since`, `--until` and `--deadline` take an ISO date (`2026-03-01`) or date and time
(`2026-03-01T12:00`, UTC unless it names an offset). A date alone means the start of that day
(00:00 UTC) for `--since`, and its end (the next midnight) for `--until` and `--deadline`, so
`--since 2026-03-01 --until 2026-03-31` covers the whole of March.
"""

from __future__ import annotations

import argparse
import hashlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from svyaz.client.cli import _as_arg, _book, _command
from svyaz.client.session import open_account_client
from svyaz.compliance.lawful.model import BASIS_KINDS, CATEGORIES, STATES
from svyaz.errors import SvyazError
from svyaz.gost.provider import load_gost_provider

CHUNK = 1 << 20


def register(commands: argparse._SubParsersAction) -> None:
    """Add this module's commands to `svyaz lawful`."""
    submit = _command(commands, "submit", "submit a lawful-access request (authorities)", _submit)
    submit.add_argument("subject", metavar="SUBJECT", help="the account it is about, a resident of this region, "
                                                           "e.g. @bob:ru")
    submit.add_argument("categories", metavar="CATEGORY", nargs="+",
                        help=f"the data asked for: {', '.join(CATEGORIES)}")
    submit.add_argument("--since", required=True, metavar="WHEN", help="start of the time range (ISO date or time)")
    submit.add_argument("--until", required=True, metavar="WHEN", help="end of the time range (a date: its end)")
    submit.add_argument("--deadline", required=True, metavar="WHEN", help="when the request expires unanswered")
    submit.add_argument("--basis-kind", required=True, choices=BASIS_KINDS, help="what the legal basis is")
    submit.add_argument("--basis-number", required=True, metavar="NUMBER", help="the document's number")
    submit.add_argument("--basis-date", required=True, metavar="YYYY-MM-DD", help="the document's date")
    submit.add_argument("--basis-issuer", required=True, metavar="BODY", help="the body that issued it")
    submit.add_argument("--document", required=True, type=Path, metavar="FILE",
                        help="the legal basis document: only its Streebog-256 hash is sent")
    _as_arg(submit)

    listing = _command(commands, "list", "requests: an authority's own, or (officers) the region's", _list)
    listing.add_argument("--state", choices=STATES, help="only requests in this state")
    _as_arg(listing)

    show = _command(commands, "show", "one request: its legal basis, scope, state and steps", _show)
    _id_arg(show)
    _as_arg(show)
    for name, help_text in (("review", "take a submitted request into review (officers)"),
                            ("approve", "approve a request in review: two distinct officers, neither the submitter")):
        step = _command(commands, name, help_text, _stepper(name))
        _id_arg(step)
        _as_arg(step)
    reject = _command(commands, "reject", "reject a request, with a reason the authority reads (officers)", _reject)
    _id_arg(reject)
    reject.add_argument("--reason", required=True, help="why it is rejected")
    _as_arg(reject)
    close = _command(commands, "close", "close a delivered request (its authority, or an officer)", _stepper("close"))
    _id_arg(close)
    _as_arg(close)


def _id_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", metavar="ID", help="the request's id, e.g. lr-ru-0123456789abcdef")


# --- helpers ----------------------------------------------------------------------------------------

def parse_when(text: str, *, end_of_day: bool = False) -> float:
    """An ISO date or date-time as Unix seconds (UTC unless it names an offset). A bare date is the
    start of that day, or with `end_of_day` the next midnight."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return (moment + timedelta(days=1) if end_of_day else moment).timestamp()
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise SvyazError(f"{text!r} is not an ISO date or time",
                         hint="write 2026-03-01, or 2026-03-01T12:00 (UTC), or 2026-03-01T12:00+03:00") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def document_hash(path: Path) -> str:
    """Streebog-256 of the file, as 64 lowercase hex digits (what `openssl dgst -md_gost12_256` prints)."""
    load_gost_provider()
    digest = hashlib.new("md_gost12_256")
    try:
        with path.open("rb") as document:
            while chunk := document.read(CHUNK):
                digest.update(chunk)
    except OSError as err:
        raise SvyazError(f"cannot read the legal basis document {path}: {err.strerror or err}") from None
    return digest.hexdigest()


def _when(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _line(request: dict[str, Any]) -> str:
    return (f"{request['id']}  {request['state']:<10} {request['approvals']}/2 approvals  {request['subject']}  "
            f"{','.join(request['categories'])}  deadline {_when(request['deadline'])}")


def describe(request: dict[str, Any]) -> str:
    """A request as text, for `show` and the answer to each step."""
    basis = request["basis"]
    lines = [
        f"request {request['id']} ({request['region']}): {request['state']}, "
        f"{request['approvals']} of 2 approvals",
        f"  subject     {request['subject']}",
        f"  categories  {', '.join(request['categories'])}",
        f"  time range  {_when(request['since'])} .. {_when(request['until'])}",
        f"  deadline    {_when(request['deadline'])}",
        f"  authority   {request['authority']}, submitted {_when(request['submitted_at'])}",
        f"  legal basis {basis['kind']} no. {basis['number']} of {basis['date']}, {basis['issuer']}",
        f"  document    Streebog-256 {basis['document_hash']}",
    ]
    for step in request["steps"]:
        who = step.get("actor") or step["role"]
        reason = f": {step['reason']}" if step.get("reason") else ""
        lines.append(f"  {_when(step['at'])}  {step['step']:<8} {who}{reason}")
    return "\n".join(lines)


# --- commands ---------------------------------------------------------------------------------------

async def _submit(args: argparse.Namespace) -> Any:
    basis = {"kind": args.basis_kind, "number": args.basis_number, "date": args.basis_date,
             "issuer": args.basis_issuer, "document_hash": document_hash(args.document)}
    call = {"subject": args.subject, "categories": args.categories, "since": parse_when(args.since),
            "until": parse_when(args.until, end_of_day=True), "deadline": parse_when(args.deadline, end_of_day=True),
            "basis": basis}
    async with open_account_client(_book(), args.as_account) as client:
        request = await client.call("lawful.request.submit", **call)
    return request if args.json else f"submitted {request['id']}\n{describe(request)}"


async def _list(args: argparse.Namespace) -> Any:
    async with open_account_client(_book(), args.as_account) as client:
        result = await client.call("lawful.request.list", state=args.state)
    if args.json:
        return result
    return "\n".join(_line(request) for request in result["requests"]) or "no requests"


async def _show(args: argparse.Namespace) -> Any:
    async with open_account_client(_book(), args.as_account) as client:
        request = await client.call("lawful.request.show", id=args.id)
    return request if args.json else describe(request)


def _stepper(step: str):
    async def take(args: argparse.Namespace) -> Any:
        async with open_account_client(_book(), args.as_account) as client:
            request = await client.call(f"lawful.request.{step}", id=args.id)
        return request if args.json else f"{step}: {request['id']} is now {request['state']}\n{describe(request)}"

    return take


async def _reject(args: argparse.Namespace) -> Any:
    async with open_account_client(_book(), args.as_account) as client:
        request = await client.call("lawful.request.reject", id=args.id, reason=args.reason)
    return request if args.json else f"rejected {request['id']}\n{describe(request)}"
