"""The export of an approved request and its download by the authority: use cases over ports.

    LawfulExports.export(actor, request_id, call_id=, recipient_pem=None, escrow_shares=None)
        an officer's step approved -> exported: collect what the node holds about the subject
        (svyaz.compliance.lawful.collect), write the signed bundle (svyaz.compliance.lawful.bundle),
        encrypt it to `recipient_pem` if given (svyaz.compliance.lawful.encryption), take the
        workflow's `export` step, and only then put the bundle where the download finds it.
        With `escrow_shares` (the share files of the officers who approved the request), the
        region's escrow key is rebuilt in memory and escrowed secret messages are opened
        (`collect.open_escrowed`); without them secret content stays sealed, with a notice.
    LawfulExports.listing(actor, request_id, call_id=)
        the authority's first look at its bundle: the files, their sizes and Streebog-256; takes
        the workflow's `deliver` step (exported -> delivered) the first time.
    LawfulExports.chunk(actor, request_id, name, offset, call_id=)
        up to CHUNK_BYTES of one file from `offset`, for the authority that submitted the request,
        while the request is exported or delivered.
    LawfulExports.close(actor, request_id, call_id=)
        the workflow's `close` step (delivered -> closed), then the bundle leaves the shelf.
    LawfulExports.sweep(call_id=)
        the node's periodic pass: the workflow stores the expiry of every overdue request, then
        every bundle whose request is neither exported nor delivered any more (closed, expired,
        however it got there) leaves the shelf, with what crashed exports and removals left.

A bundle is evidence handed to an authority, not the node's to keep: it stays on the shelf only
while its request is exported or delivered (ON_SHELF). `close` removes it at once; the sweep is
what makes that hold whatever happened in between (a lazy expiry on a read, a node stopped between
a close and its removal), because it decides from the requests' stored states, not from events.
A bundle whose request this node's store does not know is kept and reported: a wrong
`store.database_prefix` must not destroy evidence.

The workflow (`svyaz.compliance.lawful.workflow.LawfulRequests`) decides and audits its steps;
these use cases add one audit entry of their own per export (the manifest's Streebog-256, the
file count, the recipient key, how many escrowed messages were opened), one per bundle removed
(`detail.step` "bundle_removed", by the closing caller or by `node:<region>` in the sweep) and one
per refusal they decide themselves. No trio, no driver: the ports are `RequestSteps` (the
workflow), `SubjectHoldings` (collect) and `BundleShelf` (svyaz.compliance.lawful.shelf.FileShelf).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from svyaz.compliance.audit.event import AuditEvent, AuditSink, AuditUnavailable
from svyaz.compliance.lawful.bundle import FileEntry, WrittenBundle
from svyaz.compliance.lawful.collect import (
    EscrowRefused,
    SubjectHoldings,
    collect,
    escrow_key_from_shares,
    open_escrowed,
)
from svyaz.compliance.lawful.errors import ForbiddenTransition, LawfulError, UnknownRequest
from svyaz.compliance.lawful.model import APPROVED, DELIVERED, EXPORTED, LawfulRequest
from svyaz.compliance.lawful.workflow import Actor, node_actor
from svyaz.gost.errors import CryptoError
from svyaz.gost.keys import PublicKey
from svyaz.gost.libcrypto import OpenSslError
from svyaz.rbac.roles import AUTHORITY

EXPORT_ACTION = "lawful.request.export"
DOWNLOAD_ACTION = "lawful.request.download"
CLOSE_ACTION = "lawful.request.close"
SWEEP_ACTION = "lawful.request.sweep"    # the node's own pass; no API action
# The states in which a request's bundle stays on the shelf.
ON_SHELF = frozenset({EXPORTED, DELIVERED})
# A download chunk: its base64 (4/3 larger) and the JSON around it stay under the gateway's
# 64 KiB frame limit (gateway.max_frame_bytes), which clients apply to what they receive too.
CHUNK_BYTES = 32 * 1024
MAX_SHARES = 16


class BadRecipientKey(LawfulError):
    """The key to encrypt the export to is not a 256-bit GOST R 34.10-2012 public key PEM."""

    code = "lawful_bad_recipient_key"


class NotExported(LawfulError):
    """The request has no bundle to download: it is not exported (or delivered) now."""

    code = "lawful_not_exported"


class RequestSteps(Protocol):
    """The workflow's use cases these need (LawfulRequests)."""

    async def find(self, request_id: str) -> LawfulRequest | None: ...

    async def export(self, actor: Actor, request_id: str, *, call_id: str, action: str = ...) -> LawfulRequest: ...

    async def deliver(self, actor: Actor, request_id: str, *, call_id: str, action: str = ...) -> LawfulRequest: ...

    async def close(self, actor: Actor, request_id: str, *, call_id: str, action: str = ...) -> LawfulRequest: ...

    async def expire_overdue(self, now: float | None = None) -> list[str]: ...


class BundleShelf(Protocol):
    @property
    def public_key(self) -> PublicKey: ...

    async def produce(self, request: LawfulRequest, records: Mapping[str, Sequence[Mapping[str, Any]]], *,
                      created_at: float, notices: Sequence[str], recipient: PublicKey | None) -> Any: ...

    async def publish(self, produced: Any) -> None: ...

    async def discard(self, produced: Any) -> None: ...

    async def listing(self, request_id: str) -> list[FileEntry]:
        """The files handed out for the request, with their sizes and Streebog-256."""

    async def sizes(self, request_id: str) -> dict[str, int]: ...

    async def read(self, request_id: str, name: str, offset: int, length: int) -> bytes: ...

    async def held(self) -> list[str]:
        """The request ids with a bundle on the shelf."""

    async def remove(self, request_id: str) -> bool:
        """Take the request's bundle off the shelf; False if there was none (or another took it)."""

    async def clear_leftovers(self) -> None:
        """Remove what crashed exports and removals left."""


@dataclass(frozen=True)
class Exported:
    request: LawfulRequest
    bundle: WrittenBundle
    encrypted: FileEntry | None
    recipient: str | None          # the fingerprint of the key it is encrypted to
    escrow_opened: int
    export_key: str                # the fingerprint of the node's export key


@dataclass(frozen=True)
class Listing:
    request: LawfulRequest
    files: list[FileEntry]
    encrypted: bool
    export_key: str


@dataclass(frozen=True)
class Swept:
    """What one sweep did: requests expired and bundles removed (request ids), and bundles kept
    because this node's store does not know their request."""

    expired: list[str]
    removed: list[str]
    unknown: list[str]


@dataclass(frozen=True)
class Chunk:
    name: str
    offset: int
    data: bytes
    size: int

    @property
    def eof(self) -> bool:
        return self.offset + len(self.data) >= self.size


class LawfulExports:
    def __init__(self, requests: RequestSteps, holdings: SubjectHoldings, shelf: BundleShelf, audit: AuditSink, *,
                 region: str, escrow_key_id: Callable[[], str | None] = lambda: None,
                 clock: Callable[[], float] = time.time) -> None:
        self._requests = requests
        self._holdings = holdings
        self._shelf = shelf
        self._audit = audit
        self._region = region
        self._escrow_key_id = escrow_key_id
        self._clock = clock

    async def export(self, actor: Actor, request_id: str, *, call_id: str, recipient_pem: bytes | None = None,
                     escrow_shares: Sequence[Mapping[str, Any]] | None = None) -> Exported:
        request = await self._requests.find(request_id)
        try:
            if request is None or request.region != self._region:
                raise UnknownRequest(f"no request {request_id[:64]} in region {self._region}")
            if request.state != APPROVED:
                # Refused here, before anything is read: a bundle is made for an approved request only.
                raise ForbiddenTransition("export", request.state,
                                          hint="a request is exported once two officers have approved it")
            recipient = _recipient(recipient_pem)
            escrow_key = None
            if escrow_shares:
                if "content" not in request.categories:
                    raise EscrowRefused("escrow shares were given, but the request asks for no content",
                                        hint="give shares only to open the content of secret chats")
                if len(escrow_shares) > MAX_SHARES:
                    raise EscrowRefused(f"{len(escrow_shares)} shares given; at most {MAX_SHARES}")
                escrow_key = escrow_key_from_shares(escrow_shares, approvers=request.approvals, region=self._region,
                                                    escrow_key_id=self._escrow_key_id())
        except LawfulError as err:
            await self._refused(actor, EXPORT_ACTION, request_id[:64], err, call_id=call_id, step="export")
            raise
        collected = await collect(request, self._holdings)
        opened = 0
        if escrow_key is not None:
            collected.records["content"], opened = open_escrowed(collected.records["content"], escrow_key,
                                                                 shares=len(escrow_shares or ()))
            del escrow_key  # one export's worth of memory; never stored, never logged
            collected.notices.append(f"content: {opened} end-to-end encrypted messages opened with the region's "
                                     f"escrow key, rebuilt from the shares of {len(escrow_shares or ())} approving "
                                     "officers")
        produced = await self._shelf.produce(request, collected.records, created_at=self._clock(),
                                             notices=collected.notices, recipient=recipient)
        try:
            exported = await self._requests.export(actor, request.id, call_id=call_id, action=EXPORT_ACTION)
        except BaseException:
            await self._shelf.discard(produced)
            raise
        await self._shelf.publish(produced)
        bundle: WrittenBundle = produced.bundle
        export_key = self._shelf.public_key.fingerprint()
        await self._record(actor, EXPORT_ACTION, request.id, "success", call_id=call_id, step="bundle",
                           manifest_streebog256=bundle.manifest_streebog256, files=str(len(bundle.files)),
                           export_key=export_key, encrypted_to=recipient.fingerprint() if recipient else "",
                           escrow_opened=str(opened))
        return Exported(exported, bundle, produced.encrypted_entry, recipient.fingerprint() if recipient else None,
                        opened, export_key)

    async def listing(self, actor: Actor, request_id: str, *, call_id: str) -> Listing:
        request = await self._downloadable(actor, request_id, call_id=call_id)
        files = await self._shelf.listing(request.id)
        if request.state == EXPORTED:
            request = await self._requests.deliver(actor, request.id, call_id=call_id, action=DOWNLOAD_ACTION)
        encrypted = len(files) == 1 and files[0].name.endswith(".svx")
        return Listing(request, files, encrypted, self._shelf.public_key.fingerprint())

    async def chunk(self, actor: Actor, request_id: str, name: str, offset: int, *, call_id: str) -> Chunk:
        request = await self._downloadable(actor, request_id, call_id=call_id)
        sizes = await self._shelf.sizes(request.id)
        if name not in sizes:
            raise NotExported(f"the bundle of {request.id} has no file {name[:80]!r}",
                              hint="list the files first (`lawful.request.download` with the id alone)")
        if not 0 <= offset <= sizes[name]:
            raise NotExported(f"{name} has {sizes[name]} bytes; offset {offset} is outside it")
        data = await self._shelf.read(request.id, name, offset, CHUNK_BYTES)
        return Chunk(name, offset, data, sizes[name])

    async def close(self, actor: Actor, request_id: str, *, call_id: str) -> LawfulRequest:
        """delivered -> closed, then the bundle leaves the shelf (if the node stops in between,
        the next sweep removes it)."""
        closed = await self._requests.close(actor, request_id, call_id=call_id, action=CLOSE_ACTION)
        await self._take_off_shelf(actor, closed, call_id=call_id, action=CLOSE_ACTION)
        return closed

    async def sweep(self, *, call_id: str) -> Swept:
        expired = await self._requests.expire_overdue()
        await self._shelf.clear_leftovers()
        removed, unknown = [], []
        for request_id in await self._shelf.held():
            request = await self._requests.find(request_id)   # an overdue one is expired on the way
            if request is None or request.region != self._region:
                unknown.append(request_id)
            elif request.state not in ON_SHELF and await self._take_off_shelf(
                    node_actor(self._region), request, call_id=call_id, action=SWEEP_ACTION):
                removed.append(request_id)
        return Swept(expired, removed, unknown)

    async def _take_off_shelf(self, actor: Actor, request: LawfulRequest, *, call_id: str, action: str) -> bool:
        # Removed first, audited after: if the audit log is down, the data is gone all the same
        # (AuditUnavailable tells the caller the entry is missing).
        if not await self._shelf.remove(request.id):
            return False
        await self._record(actor, action, request.id, "success", call_id=call_id, step="bundle_removed",
                           state=request.state)
        return True

    async def _downloadable(self, actor: Actor, request_id: str, *, call_id: str) -> LawfulRequest:
        request = await self._requests.find(request_id)
        try:
            if (request is None or request.region != self._region or actor.role != AUTHORITY
                    or actor.id != request.authority):
                raise UnknownRequest(f"no request {request_id[:64]} of yours in region {self._region}")
            if request.state not in (EXPORTED, DELIVERED):
                raise NotExported(f"request {request.id} is {request.state}: there is no bundle to download",
                                  hint="a bundle is there once an officer has exported the approved request")
        except LawfulError as err:
            await self._refused(actor, DOWNLOAD_ACTION, request_id[:64], err, call_id=call_id, step="download")
            raise
        return request

    async def _record(self, actor: Actor, action: str, target: str, outcome: str, *, call_id: str,
                      **detail: str) -> None:
        await self._audit.record(AuditEvent(actor=actor.id, role=actor.role, action=action, target=target,
                                            region=self._region, request_id=call_id, outcome=outcome,
                                            detail=dict(detail)))

    async def _refused(self, actor: Actor, action: str, target: str, error: LawfulError, *, call_id: str,
                       step: str) -> None:
        try:
            await self._record(actor, action, target, "denied", call_id=call_id, step=step, reason=error.code)
        except AuditUnavailable:
            pass  # the caller is refused all the same; the guard's entry of the attempt is there


def _recipient(pem: bytes | None) -> PublicKey | None:
    if pem is None:
        return None
    try:
        key = PublicKey.from_pem(pem)
    except (CryptoError, OpenSslError) as err:
        raise BadRecipientKey(f"the recipient key is not a GOST public key PEM: {err}") from None
    if key.curve.key_bytes != 32:
        raise BadRecipientKey(f"the recipient key is {key.curve.name}; exports are encrypted to 256-bit keys")
    return key
