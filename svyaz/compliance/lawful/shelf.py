"""Where a node keeps its lawful exports until the authority fetches them: `FileShelf`, the
`BundleShelf` of `svyaz.compliance.lawful.export`, in `<node.data_dir>/lawful/exports/` (0700).

    exports/<request id>/       the bundle directory (svyaz.compliance.lawful.bundle)
    exports/<request id>.svx    the same bundle encrypted to the authority's key, when it was asked
                                for (svyaz.compliance.lawful.encryption); then only this file is
                                handed out
    exports/.partial-<hex>/     a bundle being written; moved into place once the export step is
                                stored, removed if the step is refused (or, if the export was
                                cancelled half-way, by the next export or sweep an hour later)
    exports/.removing-<hex>/    a bundle being removed (`remove`): renamed out of the way first, so
                                a download never sees half of it and only one process removes it;
                                what a crash left is removed by the next `clear_leftovers`

Bundles leave the shelf when their request is closed or expired
(`svyaz.compliance.lawful.export.LawfulExports.close` and `.sweep`); the shelf itself knows
nothing of requests' states.

Every file operation runs in a worker thread (`trio.to_thread.run_sync` with the node's limiter).
The shelf is a directory of one machine: the processes serving `lawful.request.export` and
`lawful.request.download` must share `node.data_dir` (docs/compliance.md says so).
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import trio

from svyaz.compliance.lawful.bundle import (
    MANIFEST,
    PUBLIC_KEY,
    SIGNATURE,
    BundleError,
    FileEntry,
    WrittenBundle,
    check_bundle_id,
    file_name,
    streebog256_file,
    write_bundle,
)
from svyaz.compliance.lawful.encryption import SUFFIX, encrypt_bundle
from svyaz.compliance.lawful.model import CATEGORIES, LawfulRequest
from svyaz.gost.keys import PrivateKey, PublicKey

EXPORTS_DIR = "exports"
_PARTIAL = ".partial-"
_REMOVING = ".removing-"
PARTIAL_MAX_AGE_S = 3600.0
T = TypeVar("T")


@dataclass(frozen=True)
class Produced:
    """A bundle written but not yet in place."""

    request_id: str
    partial: Path
    bundle: WrittenBundle
    encrypted: Path | None
    encrypted_entry: FileEntry | None


class BundleNotReady(BundleError):
    """The request is exported but its bundle is not (or no longer) on this node's shelf."""

    code = "lawful_bundle_not_ready"


class FileShelf:
    def __init__(self, root: Path, key: PrivateKey, limiter: trio.CapacityLimiter) -> None:
        self._root = Path(root)
        self._key = key
        self._limiter = limiter

    @property
    def public_key(self) -> PublicKey:
        return self._key.public_key()

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        return await trio.to_thread.run_sync(function, *args, limiter=self._limiter)

    async def produce(self, request: LawfulRequest, records: Mapping[str, Sequence[Mapping[str, Any]]], *,
                      created_at: float, notices: Sequence[str], recipient: PublicKey | None) -> Produced:
        return await self._run(self._produce, request, records, created_at, notices, recipient)

    def _produce(self, request: LawfulRequest, records: Mapping[str, Sequence[Mapping[str, Any]]],
                 created_at: float, notices: Sequence[str], recipient: PublicKey | None) -> Produced:
        self._root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._sweep_partials()
        partial = self._root / f"{_PARTIAL}{secrets.token_hex(8)}"
        partial.mkdir(mode=0o700)
        try:
            bundle = write_bundle(partial, request, records, key=self._key, created_at=created_at, notices=notices)
            encrypted = entry = None
            if recipient is not None:
                encrypted = encrypt_bundle(bundle.directory, recipient, partial / f"{request.id}{SUFFIX}")
                entry = FileEntry(encrypted.name, encrypted.stat().st_size, streebog256_file(encrypted))
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        return Produced(request.id, partial, bundle, encrypted, entry)

    def _sweep_partials(self) -> None:
        # What an export cancelled or killed half-way left behind (its step was never taken). A
        # younger one may be an export still being written by another process.
        cutoff = time.time() - PARTIAL_MAX_AGE_S
        for stale in self._root.glob(f"{_PARTIAL}*"):
            try:
                if stale.stat().st_mtime < cutoff:
                    shutil.rmtree(stale, ignore_errors=True)
            except FileNotFoundError:
                pass

    async def held(self) -> list[str]:
        """The request ids that have a bundle on the shelf (plain, encrypted or both), sorted."""
        return await self._run(self._held)

    def _held(self) -> list[str]:
        if not self._root.is_dir():
            return []
        held = set()
        try:
            entries = list(self._root.iterdir())
        except OSError as err:
            raise BundleError(f"cannot list the shelf {self._root} ({err.strerror or err})") from err
        for path in entries:
            if path.is_file() and not path.name.endswith(SUFFIX):
                continue
            name = path.name.removesuffix(SUFFIX) if path.is_file() else path.name
            try:
                held.add(check_bundle_id(name))
            except BundleError:
                pass   # a partial or a removal in progress, or something that is not ours
        return sorted(held)

    async def remove(self, request_id: str) -> bool:
        """Take the request's bundle (directory and encrypted file) off the shelf; False if there
        was none, or another process removed it first."""
        return await self._run(self._remove, request_id)

    def _remove(self, request_id: str) -> bool:
        bundle_id = check_bundle_id(request_id)
        removed = False
        for path in (self._root / f"{bundle_id}{SUFFIX}", self._root / bundle_id):
            doomed = self._root / f"{_REMOVING}{secrets.token_hex(8)}"
            try:
                os.rename(path, doomed)   # atomic: of two processes removing it, one renames it
            except FileNotFoundError:
                continue
            except OSError as err:
                raise BundleError(f"cannot remove the bundle of {bundle_id} ({err.strerror or err})") from err
            removed = True
            # Renamed, it is no longer served; if this is cut short, clear_leftovers finishes it.
            if doomed.is_dir():
                shutil.rmtree(doomed, ignore_errors=True)
            else:
                doomed.unlink(missing_ok=True)
        return removed

    async def clear_leftovers(self) -> None:
        """Remove what a crash left: removals cut short, and partial bundles older than
        PARTIAL_MAX_AGE_S."""
        await self._run(self._clear_leftovers)

    def _clear_leftovers(self) -> None:
        if not self._root.is_dir():
            return
        self._sweep_partials()
        for leftover in self._root.glob(f"{_REMOVING}*"):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)

    async def publish(self, produced: Produced) -> None:
        await self._run(self._publish, produced)

    def _publish(self, produced: Produced) -> None:
        bundle_id = check_bundle_id(produced.request_id)
        directory, encrypted = self._root / bundle_id, self._root / f"{bundle_id}{SUFFIX}"
        # Leftovers of an export whose step was refused after a crash: the step decides, not the disk.
        shutil.rmtree(directory, ignore_errors=True)
        encrypted.unlink(missing_ok=True)
        try:
            if produced.encrypted is not None:
                # The encrypted file first: once the directory is there, a download looks for it.
                os.rename(produced.encrypted, encrypted)
            os.rename(produced.bundle.directory, directory)
        except OSError as err:
            raise BundleError(f"cannot move the bundle of {bundle_id} into place ({err.strerror or err})") from err
        finally:
            shutil.rmtree(produced.partial, ignore_errors=True)

    async def discard(self, produced: Produced) -> None:
        await self._run(shutil.rmtree, produced.partial, True)

    async def listing(self, request_id: str) -> list[FileEntry]:
        return await self._run(self._listing, request_id)

    async def sizes(self, request_id: str) -> dict[str, int]:
        """The files handed out for the request and their sizes (no hashing: for each chunk)."""
        return await self._run(lambda: {path.name: path.stat().st_size for path in self._files(request_id)})

    def _listing(self, request_id: str) -> list[FileEntry]:
        return [FileEntry(path.name, path.stat().st_size, streebog256_file(path)) for path in self._files(request_id)]

    def _files(self, request_id: str) -> list[Path]:
        """What is handed out for the request: the encrypted bundle alone if there is one."""
        bundle_id = check_bundle_id(request_id)
        encrypted = self._root / f"{bundle_id}{SUFFIX}"
        if encrypted.is_file():
            return [encrypted]
        directory = self._root / bundle_id
        if not (directory / MANIFEST).is_file():
            raise BundleNotReady(f"the bundle of {bundle_id} is not on this node's shelf yet",
                                 hint="try again in a moment; if it persists, the export must be repeated")
        order = [MANIFEST, SIGNATURE, PUBLIC_KEY, *(file_name(category) for category in CATEGORIES)]
        return [directory / name for name in order if (directory / name).is_file()]

    async def read(self, request_id: str, name: str, offset: int, length: int) -> bytes:
        return await self._run(self._read, request_id, name, offset, length)

    def _read(self, request_id: str, name: str, offset: int, length: int) -> bytes:
        paths = {path.name: path for path in self._files(request_id)}
        if name not in paths:
            raise BundleError(f"the bundle of {request_id} has no file {name[:80]!r}")
        with open(paths[name], "rb") as file:
            file.seek(offset)
            return file.read(length)
