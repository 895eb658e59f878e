"""A lawful export on disk: the bundle directory, its signed manifest, and checking both.

    <request id>/
        metadata.jsonl  content.jsonl  media.jsonl  contacts.jsonl  sessions.jsonl
                             one per requested category, and only those: one JSON object per line,
                             keys sorted, no spaces, UTF-8, each line ending in \\n (an empty file
                             says the node holds nothing of that category in the time range)
        manifest.json        what was asked (request id, region, authority, subject, categories,
                             time range, legal basis, approvals), when the bundle was made, and for
                             every file its name, size in bytes, Streebog-256 (hex) and record count
        manifest.sig         GOST R 34.10-2012 (256-bit) signature of manifest.json's exact bytes,
                             with Streebog-256: the 64 bytes `openssl dgst -md_gost12_256 -sign`
                             writes (s || r, big-endian)
        node-export.pub.pem  the node's export public key (SubjectPublicKeyInfo PEM), for
                             convenience only: an authority verifies against the key it pinned

The signature covers the manifest, the manifest covers every file, so `openssl dgst -verify`
plus one `openssl dgst -md_gost12_256` per file is a complete check with no Svyaz code
(docs/compliance.md, "Exports and how to verify them"); `verify_bundle` does the same and names
the first file that fails.

May import only the standard library, `svyaz.gost` and `svyaz.compliance.lawful`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from svyaz.compliance.lawful.model import CATEGORIES, LawfulRequest
from svyaz.compliance.lawful.errors import LawfulError
from svyaz.gost.errors import CryptoError
from svyaz.gost.keys import PrivateKey, PublicKey
from svyaz.gost.libcrypto import OpenSslError
from svyaz.gost.provider import load_gost_provider

FORMAT = "svyaz-lawful-export/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PUBLIC_KEY = "node-export.pub.pem"
SUFFIX = ".jsonl"
DIGEST = "md_gost12_256"
# What a bundle directory holds besides the category files; anything else is refused.
FIXED_FILES = (MANIFEST, SIGNATURE, PUBLIC_KEY)
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_HASH_CHUNK = 1 << 20


class BundleError(LawfulError):
    """A bundle could not be written or read (not: a bundle that does not verify; see Verification)."""

    code = "lawful_bundle_error"


def file_name(category: str) -> str:
    return f"{category}{SUFFIX}"


def check_bundle_id(request_id: str) -> str:
    """A request id usable as a directory name: letters, digits, `_ . -`, not starting with a dot."""
    if not isinstance(request_id, str) or not _SAFE_ID.fullmatch(request_id) or ".." in request_id:
        raise BundleError(f"{str(request_id)[:80]!r} cannot name a bundle directory")
    return request_id


def jsonl(records: Iterable[Mapping[str, Any]]) -> bytes:
    """Records as canonical JSON lines: keys sorted, no whitespace, UTF-8 (not ASCII-escaped)."""
    return b"".join(json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                               allow_nan=False).encode("utf-8") + b"\n" for record in records)


def utc(timestamp: float | None) -> str | None:
    """Unix seconds as ISO 8601 UTC with microseconds, e.g. 2025-03-01T09:30:00.250000Z."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class FileEntry:
    name: str
    size: int
    streebog256: str
    records: int | None = None

    def as_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": self.name, "size": self.size, "streebog256": self.streebog256}
        if self.records is not None:
            entry["records"] = self.records
        return entry


@dataclass(frozen=True)
class WrittenBundle:
    directory: Path
    manifest: bytes
    signature: bytes
    files: tuple[FileEntry, ...]

    @property
    def manifest_streebog256(self) -> str:
        return streebog256_hex(self.manifest)


def manifest_for(request: LawfulRequest, files: Sequence[FileEntry], *, key: PublicKey, created_at: float,
                 notices: Sequence[str] = ()) -> bytes:
    """The manifest's bytes: sorted keys, two-space indent, a final newline (the signed form)."""
    basis = request.basis
    manifest = {
        "format": FORMAT,
        "request": {
            "id": request.id,
            "region": request.region,
            "authority": request.authority,
            "subject": request.subject,
            "categories": [category for category in CATEGORIES if category in request.categories],
            "time_range": {"since": utc(request.since), "until": utc(request.until),
                           "since_unix": request.since, "until_unix": request.until, "bounds": "[since, until): since included, until not"},
            "legal_basis": {"kind": basis.kind, "number": basis.number, "date": basis.date,
                            "issuer": basis.issuer, "document_hash": basis.document_hash},
            "approved_by": list(request.approvals),
        },
        "created_at": utc(created_at),
        "export_key": {"file": PUBLIC_KEY, "fingerprint": key.fingerprint(),
                       "algorithm": f"GOST R 34.10-2012 256-bit, {key.curve.name}"},
        "signature": {"file": SIGNATURE, "of": MANIFEST, "digest": "Streebog-256 (md_gost12_256)",
                      "encoding": "64 bytes s||r, as `openssl dgst -md_gost12_256 -sign` writes"},
        "files": [entry.as_json() for entry in files],
        "notices": list(notices),
    }
    return (json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode()


def write_bundle(parent: Path, request: LawfulRequest, records: Mapping[str, Sequence[Mapping[str, Any]]], *,
                 key: PrivateKey, created_at: float, notices: Sequence[str] = ()) -> WrittenBundle:
    """Write `parent/<request id>/` (which must not exist) with one file per requested category
    (`records` must have exactly those), the manifest, its signature and the public key."""
    asked = [category for category in CATEGORIES if category in request.categories]
    if sorted(records) != sorted(asked):
        raise BundleError(f"records for {sorted(records)} given; the request asks for {sorted(asked)}")
    directory = Path(parent) / check_bundle_id(request.id)
    try:
        directory.mkdir(mode=0o700)
    except FileExistsError:
        raise BundleError(f"{directory} exists already; a bundle is written once") from None
    except OSError as err:
        raise BundleError(f"cannot create {directory} ({err.strerror or err})") from err
    entries = []
    for category in asked:
        data = jsonl(records[category])
        name = file_name(category)
        _write(directory / name, data)
        entries.append(FileEntry(name, len(data), streebog256_hex(data), len(records[category])))
    public_key = key.public_key()
    manifest = manifest_for(request, entries, key=public_key, created_at=created_at, notices=notices)
    try:
        signature = key.sign(manifest)
    except (CryptoError, OpenSslError) as err:
        raise BundleError(f"could not sign the manifest of {request.id}: {err}") from err
    _write(directory / MANIFEST, manifest)
    _write(directory / SIGNATURE, signature)
    _write(directory / PUBLIC_KEY, public_key.to_pem())
    return WrittenBundle(directory, manifest, signature, tuple(entries))


# --- verification -------------------------------------------------------------------------------------

@dataclass
class Verification:
    """The outcome of checking a bundle. `ok` only if the signature and every file check out;
    `first_bad` names the first file that does not (the manifest, its signature, or a data file)."""

    directory: Path
    key_fingerprint: str | None = None
    key_source: str = ""            # "pinned" (given by the caller) or "bundle" (the copy inside it)
    request: dict[str, Any] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    first_bad: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, name: str, problem: str) -> None:
        if self.first_bad is None:
            self.first_bad = name
        self.problems.append(f"{name}: {problem}")

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "bundle": str(self.directory), "first_bad": self.first_bad,
                "problems": list(self.problems), "key_fingerprint": self.key_fingerprint,
                "key_source": self.key_source, "request": self.request, "files": self.files}


def verify_bundle(directory: Path, public_key_pem: bytes | None = None) -> Verification:
    """Check the manifest's signature (with `public_key_pem`, or the bundle's own copy of the key
    when none is given), then every listed file's size and Streebog-256, then that nothing
    unlisted is there. Never raises for a bad bundle: the problems are in the result."""
    directory = Path(directory)
    result = Verification(directory)
    if not directory.is_dir():
        result.fail(str(directory), "not a bundle directory")
        return result
    manifest = _read(directory / MANIFEST, result)
    signature = _read(directory / SIGNATURE, result)
    key = _public_key(directory, public_key_pem, result)
    if manifest is None or signature is None or key is None:
        return result
    if not key.verify(signature, manifest):
        result.fail(SIGNATURE, f"the signature of {MANIFEST} does not verify with key {key.fingerprint()}")
        return result
    try:
        parsed = json.loads(manifest)
        listed = [(str(entry["name"]), int(entry["size"]), str(entry["streebog256"]).lower())
                  for entry in parsed["files"]]
        result.request = dict(parsed["request"])
    except (ValueError, KeyError, TypeError):
        result.fail(MANIFEST, f"signed, but not a {FORMAT} manifest")
        return result
    if parsed.get("format") != FORMAT:
        result.fail(MANIFEST, f"format {parsed.get('format')!r}; this tool reads {FORMAT}")
        return result
    claimed = (parsed.get("export_key") or {}).get("fingerprint")
    if claimed != key.fingerprint():
        result.fail(MANIFEST, f"names export key {claimed}, but was checked with key {key.fingerprint()}")
    for name, size, digest in listed:
        result.files.append({"name": name, "size": size, "streebog256": digest})
        if "/" in name or name in FIXED_FILES or name.startswith(".") or not name:
            result.fail(name, "not a file name a bundle may list")
            continue
        path = directory / name
        if not path.is_file():
            result.fail(name, "listed in the manifest but missing")
            continue
        actual_size = path.stat().st_size
        if actual_size != size:
            result.fail(name, f"{actual_size} bytes; the manifest says {size}")
            continue
        actual = streebog256_file(path)
        if actual != digest:
            result.fail(name, f"Streebog-256 {actual}; the manifest says {digest}")
    expected = {name for name, _size, _digest in listed} | set(FIXED_FILES)
    for extra in sorted(entry.name for entry in directory.iterdir() if entry.name not in expected):
        result.fail(extra, "not listed in the manifest (nothing vouches for it)")
    return result


def streebog256_hex(data: bytes) -> str:
    load_gost_provider()
    return hashlib.new(DIGEST, data).hexdigest()


def streebog256_file(path: Path) -> str:
    load_gost_provider()
    digest = hashlib.new(DIGEST)
    with open(path, "rb") as file:
        while chunk := file.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _public_key(directory: Path, pem: bytes | None, result: Verification) -> PublicKey | None:
    source = "pinned"
    if pem is None:
        pem, source = _read(directory / PUBLIC_KEY, result), "bundle"
        if pem is None:
            return None
    result.key_source = source
    try:
        key = PublicKey.from_pem(pem)
    except (CryptoError, OpenSslError) as err:
        result.fail(PUBLIC_KEY if source == "bundle" else "key", f"not a GOST public key ({err})")
        return None
    result.key_fingerprint = key.fingerprint()
    return key


def _read(path: Path, result: Verification) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        result.fail(path.name, "missing")
    except OSError as err:
        result.fail(path.name, f"cannot be read ({err.strerror or err})")
    return None


def _write(path: Path, data: bytes) -> None:
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
    except OSError as err:
        raise BundleError(f"cannot write {path} ({err.strerror or err})") from err
