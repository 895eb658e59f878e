"""`svyaz audit verify | checkpoint | keygen | export`.

Wired into the root CLI with `register(commands)`; also runnable on its own as
`python -m svyaz.compliance.audit.cli audit verify ...` (same arguments after the program name).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from svyaz.compliance.audit.checker import verify_store
from svyaz.compliance.audit.checkpointer import Checkpointer
from svyaz.compliance.audit.keys import PublicKeys, default_key_dir, default_public_key
from svyaz.compliance.audit.store import DEFAULT_BATCH, MongoAuditStore, database_name
from svyaz.errors import SvyazError, report
from svyaz.gost import signing
from svyaz.regions import KNOWN_REGIONS, PORTS


def register(commands: argparse._SubParsersAction) -> None:
    audit = commands.add_parser("audit", help="verify, checkpoint and export the tamper-evident audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")

    verify = audit_commands.add_parser(
        "verify",
        help="check the hash chain and the signed checkpoints; exit 1 at the first bad position",
        description=(
            "Walk the region's audit log by seq, recompute every Streebog-256 hash and link, check "
            "every checkpoint's GOST signature, and name the first bad position and the kind of "
            "tampering (edited, deleted, inserted, reordered, truncated, rewritten, forged_checkpoint)."
        ),
    )
    _store_arguments(verify)
    verify.add_argument(
        "--public-key", type=Path, action="append", metavar="PATH",
        help="PEM public key trusted for checkpoints (repeatable; default: the region's "
             "$SVYAZ_STATE_DIR/<region>/audit/signing_key.pub.pem)",
    )
    verify.add_argument("--json", action="store_true", help="print the result as one JSON object")
    verify.add_argument("--batch", type=_positive, default=DEFAULT_BATCH, help="entries per seq-range query")
    verify.set_defaults(handler=verify_command)

    checkpoint = audit_commands.add_parser(
        "checkpoint", help="sign the current head now (after verifying what is new since the last checkpoint)"
    )
    _store_arguments(checkpoint)
    _key_dir_argument(checkpoint)
    checkpoint.set_defaults(handler=checkpoint_command)

    keygen = audit_commands.add_parser(
        "keygen", help="create the node's GOST R 34.10-2012 audit signing key if it has none"
    )
    _region_argument(keygen)
    _key_dir_argument(keygen)
    keygen.set_defaults(handler=keygen_command)

    export = audit_commands.add_parser(
        "export", help="print stored entries (or checkpoints) as JSON lines, for auditors' own tools"
    )
    _store_arguments(export)
    export.add_argument("--from", dest="first", type=_positive, default=1, metavar="SEQ", help="first seq")
    export.add_argument(
        "--to", dest="last", type=_positive, metavar="SEQ", help="last seq (default: the head)"
    )
    export.add_argument("--checkpoints", action="store_true", help="export checkpoints instead of entries")
    export.set_defaults(handler=export_command)


def verify_command(args: argparse.Namespace) -> int:
    keys = PublicKeys(paths=args.public_key or [default_public_key(args.region)])
    store = _open_store(args)
    try:
        report = verify_store(store, keys, batch=args.batch)
    finally:
        store.close()
    print(json.dumps(report.as_dict()) if args.json else report.summary())
    return 0 if report.ok else 1


def checkpoint_command(args: argparse.Namespace) -> int:
    keypair = signing.load_keypair(_key_dir(args))
    store = _open_store(args)
    try:
        checkpoint = Checkpointer(store, keypair).checkpoint_now()
    finally:
        store.close()
    if checkpoint is None:
        print("no new entries since the last checkpoint; nothing signed")
    else:
        print(f"checkpoint at seq {checkpoint.seq} signed with key {checkpoint.key_id}")
    return 0


def keygen_command(args: argparse.Namespace) -> int:
    directory = _key_dir(args)
    existed = (directory / signing.PRIVATE_KEY_FILE).exists()
    keypair = signing.load_or_generate_keypair(directory)
    print(f"{'existing' if existed else 'new'} audit signing key {keypair.key_id}")
    print(f"  private: {keypair.private_key_path} (keep it 0600; never copy it off the node)")
    print(f"  public:  {directory / signing.PUBLIC_KEY_FILE} (give this to auditors)")
    return 0


def export_command(args: argparse.Namespace) -> int:
    store = _open_store(args)
    try:
        if args.checkpoints:
            latest = store.latest_checkpoint()
            documents = store.iter_checkpoints(latest["seq"]) if latest else iter(())
        else:
            documents = store.iter_entries(args.first, args.last or store.head_seq() or 0)
        for document in documents:
            document.pop("_id", None)
            print(json.dumps(document, ensure_ascii=False, default=str))
    finally:
        store.close()
    return 0


def _region_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--region", choices=KNOWN_REGIONS, default="ru", help="the region (default: ru)")


def _store_arguments(parser: argparse.ArgumentParser) -> None:
    _region_argument(parser)
    parser.add_argument(
        "--store-url", metavar="URL", help="Mongo-wire store (default: the region's local FerretDB)"
    )
    parser.add_argument(
        "--database-prefix", metavar="PREFIX",
        help="the node's store.database_prefix; the log is in <PREFIX>_compliance (default: svyaz_<region>)",
    )


def _key_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--key-dir", type=Path, metavar="DIR",
        help="directory of signing_key.pem (default: $SVYAZ_STATE_DIR/<region>/audit, state dir .svyaz)",
    )


def _key_dir(args: argparse.Namespace) -> Path:
    return args.key_dir or default_key_dir(args.region)


def _open_store(args: argparse.Namespace) -> MongoAuditStore:
    url = args.store_url or f"mongodb://127.0.0.1:{PORTS[args.region].ferretdb}/"
    prefix = args.database_prefix or f"svyaz_{args.region}"
    store = MongoAuditStore.connect(url, prefix)
    # Fail here, naming the database, rather than mid-walk with a driver message.
    try:
        store.head_seq()
    except SvyazError as err:
        store.close()
        raise SvyazError(
            f"cannot read the audit log in {database_name(prefix)}: {err}",
            hint="start the region's store (`svyaz stack up`) or pass --store-url",
        ) from err
    return store


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m svyaz.compliance.audit.cli audit ...`: the same as `svyaz audit ...`."""
    parser = argparse.ArgumentParser(prog="svyaz", description="Svyaz audit log tools")
    register(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except SvyazError as err:
        return report(err)


if __name__ == "__main__":
    sys.exit(main())
