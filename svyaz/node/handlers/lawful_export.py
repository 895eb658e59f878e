"""lawful.request.export, lawful.request.download and lawful.request.close: the signed export of an
approved request, its download by the authority, and the close that takes it off the node's shelf
(docs/compliance.md, "Exports and how to verify them"; the use cases are
`svyaz.compliance.lawful.export.LawfulExports`).

The guard has allowed the action (all are privileged: its `allowed` entry is written, in a
second-factor session only) before a handler runs: `export` is a security officer's, `download`
an authority's, `close` either's. The use cases decide the rest (an approved request; the
authority's own request; a delivered one to close) and the workflow audits the steps they take.

    lawful.request.export    {id, recipient_key?: PEM, escrow_shares?: [share, ...]}
        -> {id, state, manifest_streebog256, export_key, files: [{name, size, streebog256, records}],
            encrypted: {name, size, streebog256, recipient} | null, escrow_opened}
    lawful.request.download  {id}
        -> {id, state, encrypted, export_key, chunk_bytes, files: [{name, size, streebog256}]}
           (the first call of a download takes the `deliver` step)
    lawful.request.download  {id, file, offset}
        -> {id, file, offset, size, data: base64 of up to chunk_bytes bytes, eof}
    lawful.request.close     {id}
        -> the request as `lawful.request.show` shows it (state `closed`); its bundle is gone
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from svyaz.compliance.audit.event import AuditSink
from svyaz.compliance.lawful.bundle import FileEntry
from svyaz.compliance.lawful.export import CHUNK_BYTES, Exported, LawfulExports
from svyaz.compliance.lawful.export_key import key_dir, load_or_generate_export_key
from svyaz.compliance.lawful.shelf import EXPORTS_DIR, FileShelf
from svyaz.compliance.lawful.store import lawful_requests
from svyaz.compliance.lawful.workflow import Actor
from svyaz.node.api import Call, Handler
from svyaz.node.errors import InvalidField
from svyaz.node.handlers.args import me, only, optional_position, optional_text, text
from svyaz.node.handlers.lawful import request_data
from svyaz.node.lawful_holdings import NodeHoldings
from svyaz.node.secret_policy import load_secret_policy
from svyaz.rbac.guard import Guard

if TYPE_CHECKING:
    from pymongo import MongoClient

    from svyaz.identity.store import IdentityStore
    from svyaz.node.config import NodeConfig
    from svyaz.node.messaging import Messaging

ID_LIMIT = 64
KEY_LIMIT = 4096
FILE_NAME_LIMIT = 200


class LawfulExportHandlers:
    def __init__(self, exports: LawfulExports, guard: Guard) -> None:
        self._exports = exports
        self._guard = guard

    @classmethod
    async def wired(cls, config: NodeConfig, *, client: MongoClient, limiter: trio.CapacityLimiter, audit: AuditSink,
                    guard: Guard, messaging: Messaging, identity_store: IdentityStore) -> LawfulExportHandlers:
        """Over the node's stores, its export key in `<node.data_dir>/lawful/` (made on first use)
        and its shelf `<node.data_dir>/lawful/exports/`."""
        directory = key_dir(config.data_path)
        key = await trio.to_thread.run_sync(load_or_generate_export_key, directory)
        policy_dir = Path(config.rbac.policy_dir)

        def escrow_key_id() -> str | None:
            # Read when shares are given, so an escrow key configured since start-up is the one used.
            return load_secret_policy(policy_dir, config.region).escrow_key_id

        requests = lawful_requests(client[f"{config.store.database_prefix}_compliance"], limiter, audit,
                                   region=config.region, account_exists=messaging.directory.exists)
        exports = LawfulExports(requests, NodeHoldings.of(messaging, identity_store, limiter),
                                FileShelf(directory / EXPORTS_DIR, key, limiter), audit, region=config.region,
                                escrow_key_id=escrow_key_id)
        return cls(exports, guard)

    @property
    def exports(self) -> LawfulExports:
        """The use cases, for the node's sweep (`svyaz.node.lawful_sweep`)."""
        return self._exports

    def routes(self) -> dict[str, Handler]:
        return {"lawful.request.export": self.export, "lawful.request.download": self.download,
                "lawful.request.close": self.close}

    def _actor(self, call: Call) -> Actor:
        role = self._guard.role_for(call.caller.principal, call.action, call.region)
        return Actor(me(call), role or "none")

    async def export(self, call: Call) -> dict[str, Any]:
        args = only(call, "id", "recipient_key", "escrow_shares")
        recipient = optional_text(args, "recipient_key", limit=KEY_LIMIT)
        shares = args.get("escrow_shares")
        if shares is not None and (not isinstance(shares, list) or not all(isinstance(s, dict) for s in shares)):
            raise InvalidField('"escrow_shares" must be a list of share objects (the officers\' share files)')
        exported = await self._exports.export(self._actor(call), text(args, "id", limit=ID_LIMIT),
                                              call_id=call.request_id,
                                              recipient_pem=recipient.encode() if recipient else None,
                                              escrow_shares=shares or None)
        return export_data(exported)

    async def download(self, call: Call) -> dict[str, Any]:
        args = only(call, "id", "file", "offset")
        request_id = text(args, "id", limit=ID_LIMIT)
        actor = self._actor(call)
        name = optional_text(args, "file", limit=FILE_NAME_LIMIT)
        if name is None:
            if args.get("offset") is not None:
                raise InvalidField('"offset" goes with "file"')
            listing = await self._exports.listing(actor, request_id, call_id=call.request_id)
            return {"id": listing.request.id, "state": listing.request.state, "encrypted": listing.encrypted,
                    "export_key": listing.export_key, "chunk_bytes": CHUNK_BYTES,
                    "files": [entry.as_json() for entry in listing.files]}
        offset = optional_position(args, "offset") or 0
        chunk = await self._exports.chunk(actor, request_id, name, offset, call_id=call.request_id)
        return {"id": request_id, "file": chunk.name, "offset": chunk.offset, "size": chunk.size,
                "data": base64.b64encode(chunk.data).decode("ascii"), "eof": chunk.eof}

    async def close(self, call: Call) -> dict[str, Any]:
        actor = self._actor(call)
        request_id = text(only(call, "id"), "id", limit=ID_LIMIT)
        return request_data(await self._exports.close(actor, request_id, call_id=call.request_id), actor)


def export_data(exported: Exported) -> dict[str, Any]:
    encrypted: FileEntry | None = exported.encrypted
    return {
        "id": exported.request.id, "state": exported.request.state,
        "manifest_streebog256": exported.bundle.manifest_streebog256, "export_key": exported.export_key,
        "files": [entry.as_json() for entry in exported.bundle.files],
        "encrypted": None if encrypted is None else {**encrypted.as_json(), "recipient": exported.recipient},
        "escrow_opened": exported.escrow_opened,
    }
