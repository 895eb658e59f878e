"""`svyaz lawful export|download|verify|export-key`: lawful exports from the command line
(docs/compliance.md, "Exports and how to verify them").

    svyaz lawful export ID [--encrypt-to AUTHORITY.pub.pem] [--escrow-share FILE ...]
        an officer takes the export step of an approved request through the node's API
    svyaz lawful download ID --out DIR [--key node-export.pub.pem] [--decrypt-with KEY.pem]
        the authority fetches its bundle through the node's API (in chunks), checks every file
        against the node's listing, then verifies the bundle (decrypting it first if it is
        encrypted and a key is given)
    svyaz lawful verify BUNDLE [--key node-export.pub.pem] [--decrypt-with KEY.pem] [--out DIR]
        offline: the manifest's signature, every file's size and Streebog-256, nothing unlisted;
        names the first bad file and exits 1 on any failure
    svyaz lawful export-key (--data-dir DIR | --region R [--config FILE])
        on the node's machine: print the node's export public key, for authorities to pin

`export` and `download` sign in as the device's current account (or `--as`), like every client
command; `verify` and `export-key` need no node. `--json` prints the result as JSON.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

import trio

from svyaz.client.cli import _as_arg, _book, _command
from svyaz.client.session import open_account_client
from svyaz.compliance.lawful.bundle import BundleError, Verification, check_bundle_id, streebog256_file, verify_bundle
from svyaz.compliance.lawful.encryption import decrypt_bundle, encrypted_recipient
from svyaz.compliance.lawful.export_key import PUBLIC_KEY_FILE, key_dir, read_public_key
from svyaz.errors import SvyazError, report
from svyaz.gost.errors import CryptoError
from svyaz.gost.keys import PrivateKey
from svyaz.gost.libcrypto import OpenSslError


def register(commands: argparse._SubParsersAction) -> None:
    """Add this module's commands to `svyaz lawful`."""
    export = _command(commands, "export", "produce the signed export of an approved request (officers)", _export)
    export.add_argument("id", metavar="ID", help="the request's id, e.g. lr-ru-0123456789abcdef")
    export.add_argument("--encrypt-to", type=Path, metavar="PEM",
                        help="encrypt the bundle to this GOST 256-bit public key (the authority's)")
    export.add_argument("--escrow-share", dest="escrow_shares", type=Path, action="append", default=[],
                        metavar="FILE", help="an approving officer's escrow share file (repeat, k of n): opens "
                                             "escrowed secret-chat messages; without them they stay sealed")
    _as_arg(export)

    download = _command(commands, "download", "fetch a request's bundle from the node and verify it (authorities)",
                        _download)
    download.add_argument("id", metavar="ID")
    download.add_argument("--out", type=Path, required=True, metavar="DIR",
                          help="where to put the bundle (DIR/ID/, or DIR/ID.svx if it is encrypted)")
    download.add_argument("--key", type=Path, metavar="PEM", help="the node's export public key you pinned")
    download.add_argument("--decrypt-with", type=Path, metavar="PEM", help="your private key, for an encrypted bundle")
    _as_arg(download)

    verify = commands.add_parser("verify", help="verify a bundle: signature, every file's size and Streebog-256",
                                 description="Verify a lawful export bundle offline. Exit status 0: it verifies; "
                                             "1: it does not (the first bad file is named).")
    verify.add_argument("bundle", type=Path, metavar="BUNDLE", help="the bundle directory, or an encrypted ID.svx")
    verify.add_argument("--key", type=Path, metavar="PEM",
                        help="the node's export public key you pinned (default: the copy inside the bundle)")
    verify.add_argument("--decrypt-with", type=Path, metavar="PEM", help="your private key, for an encrypted bundle")
    verify.add_argument("--out", type=Path, metavar="DIR",
                        help="where to extract an encrypted bundle (default: next to it)")
    verify.add_argument("--json", action="store_true", help="print the result as JSON")
    verify.set_defaults(handler=_verify_command)

    key = commands.add_parser("export-key", help="print the node's export public key (operators, on the node)")
    where = key.add_mutually_exclusive_group(required=True)
    where.add_argument("--data-dir", type=Path, metavar="DIR", help="the node's node.data_dir")
    where.add_argument("--region", help="read node.data_dir from the region's configuration")
    key.add_argument("--config", type=Path, metavar="FILE", help="the node's configuration file (with --region)")
    key.add_argument("--json", action="store_true", help="print {fingerprint, public_key, path} as JSON")
    key.set_defaults(handler=_export_key_command)


# --- verify -----------------------------------------------------------------------------------------

def _verify_command(args: argparse.Namespace) -> int:
    try:
        pinned = _read(args.key, "the export public key") if args.key else None
        directory = args.bundle
        if args.bundle.is_file():
            if args.decrypt_with is None:
                raise SvyazError(f"{args.bundle} is an encrypted bundle (for key {encrypted_recipient(args.bundle)})",
                                 hint="pass --decrypt-with YOUR-PRIVATE-KEY.pem")
            directory = decrypt_bundle(args.bundle, _private_key(args.decrypt_with), args.out or args.bundle.parent)
        result = verify_bundle(directory, pinned)
    except SvyazError as err:
        if args.json:
            print(json.dumps({"ok": False, "bundle": str(args.bundle), "error": str(err)}, indent=2))
            return 1
        return report(err, sys.stderr)
    _print_verification(result, as_json=args.json)
    return 0 if result.ok else 1


def _print_verification(result: Verification, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.as_json(), indent=2, ensure_ascii=False))
        return
    print(describe_verification(result), file=sys.stdout if result.ok else sys.stderr)


def describe_verification(result: Verification) -> str:
    request = result.request
    if result.ok:
        lines = [f"bundle {request.get('id', result.directory.name)}: verified"]
    else:
        lines = [f"bundle {result.directory}: verification FAILED at {result.first_bad}"]
        lines += [f"  {problem}" for problem in result.problems]
    if result.key_fingerprint:
        source = ("the key you gave" if result.key_source == "pinned" else
                  "the key inside the bundle: compare its fingerprint with the one the node's operator gave you, "
                  "or pass --key")
        lines.append(f"  signed by export key {result.key_fingerprint} ({source})")
    if request:
        time_range = request.get("time_range", {})
        lines.append(f"  request {request.get('id')} ({request.get('region')}) about {request.get('subject')}: "
                     f"{', '.join(request.get('categories', []))}, {time_range.get('since')} .. "
                     f"{time_range.get('until')}")
    if result.ok:
        lines += [f"  {entry['name']:<16} {entry['size']:>10} bytes  Streebog-256 {entry['streebog256']}"
                  for entry in result.files]
    return "\n".join(lines)


# --- export and download through the node ---------------------------------------------------------

async def _export(args: argparse.Namespace) -> Any:
    call: dict[str, Any] = {"id": args.id}
    if args.encrypt_to:
        call["recipient_key"] = _read(args.encrypt_to, "the recipient's public key").decode("ascii", "replace")
    if args.escrow_shares:
        call["escrow_shares"] = [_share(path) for path in args.escrow_shares]
    async with open_account_client(_book(), args.as_account) as client:
        result = await client.call("lawful.request.export", **call)
    if args.json:
        return result
    lines = [f"exported {result['id']}: now {result['state']}",
             f"  manifest Streebog-256 {result['manifest_streebog256']}, signed by export key {result['export_key']}"]
    lines += [f"  {entry['name']:<16} {entry['size']:>10} bytes  {entry.get('records', 0)} records"
              for entry in result["files"]]
    if result.get("encrypted"):
        lines.append(f"  encrypted to key {result['encrypted']['recipient']}: {result['encrypted']['name']}")
    if args.escrow_shares:
        lines.append(f"  escrowed secret messages opened: {result['escrow_opened']}")
    return "\n".join(lines)


async def _download(args: argparse.Namespace) -> Any:
    bundle_id = check_bundle_id(args.id)
    pinned = _read(args.key, "the export public key") if args.key else None
    private_key = _private_key(args.decrypt_with) if args.decrypt_with else None
    async with open_account_client(_book(), args.as_account) as client:
        listing = await client.call("lawful.request.download", id=bundle_id)
        target = args.out if listing["encrypted"] else args.out / bundle_id
        await trio.to_thread.run_sync(lambda: target.mkdir(mode=0o700, parents=True, exist_ok=True))
        for entry in listing["files"]:
            await _fetch(client, bundle_id, entry, target / _plain_name(entry["name"]))
    result: dict[str, Any] = {"id": bundle_id, "state": listing["state"], "encrypted": listing["encrypted"],
                              "files": listing["files"]}
    if listing["encrypted"]:
        path = target / listing["files"][0]["name"]
        result["path"] = str(path)
        if private_key is None:
            if args.json:
                return result
            return (f"downloaded {path} (encrypted to key {encrypted_recipient(path)})\n"
                    f"  open and verify it: svyaz lawful verify {path} --decrypt-with YOUR-KEY.pem"
                    + (f" --key {args.key}" if args.key else ""))
        directory = await trio.to_thread.run_sync(decrypt_bundle, path, private_key, args.out)
    else:
        directory = target
    verification = await trio.to_thread.run_sync(verify_bundle, directory, pinned)
    result.update(path=str(directory), verification=verification.as_json())
    if not verification.ok:
        if args.json:
            print(json.dumps(result, indent=2, ensure_ascii=False))
        raise _Unverified(verification)
    return result if args.json else f"downloaded to {directory}\n{describe_verification(verification)}"


async def _fetch(client, bundle_id: str, entry: dict[str, Any], path: Path) -> None:
    """One file, chunk by chunk, checked against the node's listing (size and Streebog-256)."""
    offset = 0
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        while True:
            chunk = await client.call("lawful.request.download", id=bundle_id, file=entry["name"], offset=offset)
            data = base64.b64decode(chunk["data"], validate=True)
            file.write(data)
            offset += len(data)
            if chunk["eof"] or not data:
                break
    if offset != entry["size"] or streebog256_file(path) != entry["streebog256"]:
        raise SvyazError(f"{entry['name']} arrived damaged ({offset} of {entry['size']} bytes, or another digest)",
                         hint="download again")


class _Unverified(SvyazError):
    code = "lawful_bundle_unverified"

    def __init__(self, verification: Verification) -> None:
        super().__init__(describe_verification(verification), hint="do not rely on this bundle; ask the node again")


# --- export-key -------------------------------------------------------------------------------------

def _export_key_command(args: argparse.Namespace) -> int:
    try:
        data_dir = args.data_dir
        if data_dir is None:
            from svyaz.node.config import load_config

            data_dir = load_config(args.region, path=args.config, environ=os.environ).data_path
        directory = key_dir(data_dir)
        public_key = read_public_key(directory)
    except SvyazError as err:
        return report(err, sys.stderr)
    if args.json:
        print(json.dumps({"fingerprint": public_key.fingerprint(), "path": str(directory / PUBLIC_KEY_FILE),
                          "public_key": public_key.to_pem().decode("ascii")}, indent=2))
    else:
        sys.stdout.write(public_key.to_pem().decode("ascii"))
        print(f"# fingerprint {public_key.fingerprint()} (Streebog-256 of the DER public key, first 16 hex digits)",
              file=sys.stderr)
    return 0


# --- helpers ----------------------------------------------------------------------------------------

def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise SvyazError(f"cannot read {what} {path}: {err.strerror or err}") from None


def _private_key(path: Path) -> PrivateKey:
    try:
        return PrivateKey.from_pem(_read(path, "the private key"))
    except (CryptoError, OpenSslError) as err:
        raise SvyazError(f"{path} is not a GOST private key: {err}") from None


def _share(path: Path) -> dict[str, Any]:
    try:
        share = json.loads(_read(path, "the escrow share"))
    except ValueError:
        raise SvyazError(f"{path} is not an escrow share file (JSON)") from None
    if not isinstance(share, dict):
        raise SvyazError(f"{path} is not an escrow share file")
    return share


def _plain_name(name: str) -> str:
    if not name or "/" in name or name.startswith(".") or len(name) > 200:
        raise BundleError(f"the node listed a file named {name[:80]!r}; refusing to write it")
    return name
