"""`svyaz audit verify | checkpoint | keygen | export`.

Wired into the root CLI with `register(commands)`; also runnable on its own as
`python -m svyaz.compliance.audit.cli audit verify ...` (same arguments after the program name).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import uuid
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from svyaz.compliance.audit.checker import verify_store
from svyaz.compliance.audit.checkpointer import Checkpointer
from svyaz.compliance.audit.event import AuditEvent
from svyaz.compliance.audit.keys import ANCHORS_FILE, PublicKeys, default_key_dir, trusted_public_keys
from svyaz.compliance.audit.rotation import Rotation, prepare_rotation
from svyaz.compliance.audit.store import DEFAULT_BATCH, MongoAuditStore, database_name
from svyaz.errors import SvyazError, report
from svyaz.gost import signing
from svyaz.regions import KNOWN_REGIONS, PORTS

ROTATE_ACTION = "audit.key.rotate"


def register(commands: argparse._SubParsersAction) -> None:
    audit = commands.add_parser("audit", help="verify, checkpoint and export the tamper-evident audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")

    verify = audit_commands.add_parser(
        "verify",
        help="check the hash chain and the signed checkpoints; exit 1 at the first bad position",
        description=(
            "Walk the region's audit log by seq, recompute every Streebog-256 hash and link, check "
            "every checkpoint's GOST signature and that every checkpoint in the anchor file is still "
            "stored, and name the first bad position and the kind of tampering (edited, deleted, "
            "inserted, reordered, truncated, rewritten, forged_checkpoint, forged_anchor)."
        ),
    )
    _store_arguments(verify)
    _key_dir_argument(verify, "the node's audit key directory: its signing_key.pub.pem and retired/*.pub.pem "
                              "are trusted, its anchors.jsonl is checked if present")
    verify.add_argument(
        "--public-key", type=Path, action="append", metavar="PATH",
        help="trust only these PEM public keys for checkpoints (repeatable) instead of the key directory's",
    )
    anchors = verify.add_mutually_exclusive_group()
    anchors.add_argument(
        "--anchors", type=Path, metavar="FILE",
        help="anchor file to check the stored checkpoints against (default: the key directory's "
             "anchors.jsonl, if there is one)",
    )
    anchors.add_argument("--no-anchors", action="store_true", help="check the database alone")
    _json_argument(verify)
    verify.add_argument("--batch", type=_positive, default=DEFAULT_BATCH, help="entries per seq-range query")
    verify.set_defaults(handler=verify_command)

    checkpoint = audit_commands.add_parser(
        "checkpoint", help="sign the current head now (after verifying what is new since the last checkpoint)"
    )
    _store_arguments(checkpoint)
    _key_dir_argument(checkpoint)
    checkpoint.add_argument(
        "--anchors", type=Path, metavar="FILE",
        help="append the checkpoint to this anchor file (default: anchors.jsonl in the key directory)",
    )
    _json_argument(checkpoint)
    checkpoint.set_defaults(handler=checkpoint_command)

    keygen = audit_commands.add_parser(
        "keygen", help="create the node's GOST R 34.10-2012 audit signing key if it has none, or rotate it",
        description=(
            "Without --rotate: create the key pair if there is none. With --rotate: replace it with a "
            "new one (running nodes sign their next checkpoint with it), keep the old public key in "
            "retired/ so its checkpoints still verify, destroy the old private key, and record "
            f"`{ROTATE_ACTION}` in the audit log (the store must be reachable)."
        ),
    )
    _store_arguments(keygen)
    _key_dir_argument(keygen)
    keygen.add_argument("--rotate", action="store_true", help="replace the existing key with a new one")
    keygen.add_argument(
        "--keep-old-private-key", action="store_true",
        help="with --rotate: keep the old private key as retired/<key_id>.pem (0600) instead of destroying it",
    )
    _json_argument(keygen)
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
    key_dir = _key_dir(args)
    keys = PublicKeys(paths=args.public_key or trusted_public_keys(key_dir))
    anchors = args.anchors
    if anchors is None and not args.no_anchors and (key_dir / ANCHORS_FILE).exists():
        anchors = key_dir / ANCHORS_FILE
    store = _open_store(args)
    try:
        report = verify_store(store, keys, batch=args.batch, anchors=anchors)
    finally:
        store.close()
    print(json.dumps(report.as_dict()) if args.json else report.summary())
    return 0 if report.ok else 1


def checkpoint_command(args: argparse.Namespace) -> int:
    keypair = signing.load_keypair(_key_dir(args))
    store = _open_store(args)
    try:
        checkpoint = Checkpointer(store, keypair, anchors=args.anchors).checkpoint_now()
    finally:
        store.close()
    if args.json:
        seq, key_id = (checkpoint.seq, checkpoint.key_id) if checkpoint else (None, None)
        print(json.dumps({"seq": seq, "key_id": key_id}))
    elif checkpoint is None:
        print("no new entries since the last checkpoint; nothing signed")
    else:
        print(f"checkpoint at seq {checkpoint.seq} signed with key {checkpoint.key_id}")
    return 0


def keygen_command(args: argparse.Namespace) -> int:
    directory = _key_dir(args)
    if args.rotate:
        return _rotate(args, directory)
    if args.keep_old_private_key:
        raise SvyazError("--keep-old-private-key only applies to --rotate", hint="add --rotate, or drop it")
    existed = (directory / signing.PRIVATE_KEY_FILE).exists()
    keypair = signing.load_or_generate_keypair(directory)
    public = directory / signing.PUBLIC_KEY_FILE
    if args.json:
        print(json.dumps({"key_id": keypair.key_id, "created": not existed,
                          "private_key": str(keypair.private_key_path), "public_key": str(public)}))
        return 0
    print(f"{'existing' if existed else 'new'} audit signing key {keypair.key_id}")
    print(f"  private: {keypair.private_key_path} (keep it 0600; never copy it off the node)")
    print(f"  public:  {public} (give this to auditors)")
    return 0


def _rotate(args: argparse.Namespace, directory: Path) -> int:
    # The store first: a rotation that cannot be recorded is not made (fail closed).
    store = _open_store(args)
    try:
        with prepare_rotation(directory) as pending:
            fate = "kept" if args.keep_old_private_key else "destroyed"
            event = partial(
                AuditEvent, actor=f"operator:{getpass.getuser()}", role="operator", action=ROTATE_ACTION,
                target=pending.old.key_id, region=args.region,
                request_id=f"audit-keygen-rotate-{uuid.uuid4().hex[:12]}",
                detail={"old_key_id": pending.old.key_id, "new_key_id": pending.new.key_id,
                        "old_private_key": fate},
            )
            store.append(event(outcome="allowed"))  # AuditUnavailable: the new key is discarded
            try:
                rotation = pending.commit(keep_old_private_key=args.keep_old_private_key)
            except OSError as err:
                _record_result(store, event(outcome="failure"))
                raise SvyazError(
                    f"the audit signing key in {directory} could not be rotated: {err}",
                    hint="check the key directory; `svyaz audit keygen` shows which key is in place",
                ) from err
            _record_result(store, event(outcome="success"))
    finally:
        store.close()
    _print_rotation(args, directory, rotation)
    return 0


def _record_result(store: MongoAuditStore, event: AuditEvent) -> None:
    # The `allowed` entry already names both keys; a lost result entry cannot undo the rotation.
    try:
        store.append(event)
    except SvyazError as err:
        print(f"warning: the rotation's {event.outcome} was not recorded in the audit log: {err}",
              file=sys.stderr)


def _print_rotation(args: argparse.Namespace, directory: Path, rotation: Rotation) -> None:
    fields: dict[str, Any] = {
        "rotated": True,
        "key_id": rotation.new_key_id,
        "old_key_id": rotation.old_key_id,
        "private_key": str(directory / signing.PRIVATE_KEY_FILE),
        "public_key": str(directory / signing.PUBLIC_KEY_FILE),
        "retired_public_key": str(rotation.retired_public_key),
        "retired_private_key": str(rotation.retired_private_key) if rotation.retired_private_key else None,
    }
    if args.json:
        print(json.dumps(fields))
        return
    kept = rotation.retired_private_key
    old_private = f"kept at {kept} (0600; destroy it when no longer needed)" if kept else "destroyed"
    print(f"rotated audit signing key {rotation.old_key_id} -> {rotation.new_key_id}")
    print(f"  public:         {fields['public_key']} (give this to auditors)")
    print(f"  retired public: {rotation.retired_public_key} (keep it: earlier checkpoints verify with it)")
    print(f"  old private:    {old_private}")
    print("  running nodes sign their next checkpoint with the new key; `svyaz audit checkpoint` signs one now")


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


def _key_dir_argument(parser: argparse.ArgumentParser, what: str = "directory of signing_key.pem") -> None:
    parser.add_argument(
        "--key-dir", type=Path, metavar="DIR",
        help=f"{what} (default: $SVYAZ_STATE_DIR/<region>/audit, state dir .svyaz)",
    )


def _json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")


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
