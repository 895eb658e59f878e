"""The node's content keys: the Kuznyechik AEAD keys that seal message content at rest.

A key ring in `<node.data_dir>/content-keys/` (0700), shared by every process of the node:

    <key id>.key   32 random bytes, 0600; the key id is 16 hex digits, random (it names the key
                   without saying anything about it)
    current        the id of the key new content is sealed with

`svyaz node content-key rotate` adds a key and points `current` at it; older keys stay, so what
they sealed still opens. `rewrap` re-seals documents under the current key, after which `retire`
may delete an old key. Files are written to a temporary name and renamed into place, under an
exclusive lock (`.lock`), so a reader sees a whole key or none.

`ContentKeyRing` is the `ContentSealer` (svyaz/messaging/at_rest.py) the stores use. Like the audit
signer's `KeyDir` (svyaz/compliance/audit/signer.py), it notices changes made by other processes:
before each seal it compares the `current` file and the directory with what it loaded (two
`stat` calls, against ~0.4 ms for the seal), and an unknown key id on open makes it look again.
Key bytes never appear in a log line, an error or a repr.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import stat
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pymongo import MongoClient

from svyaz.gost.aead import KEY_BYTES, Aead, NonceSequence
from svyaz.gost.errors import AuthenticationFailed, CryptoError
from svyaz.messaging.at_rest import AtRest, SealFailed
from svyaz.messaging.store import PROTECTED_COLLECTIONS, RewrapBatch, first_sealed_with, rewrap_documents
from svyaz.node.errors import NodeError

KEY_DIR_NAME = "content-keys"
CURRENT_FILE = "current"
LOCK_FILE = ".lock"
KEY_SUFFIX = ".key"
_KEY_ID = re.compile(r"[0-9a-f]{16}")


class ContentKeyError(NodeError):
    """The content key ring is missing, unreadable, unsafe, or asked to do what it must not."""

    code = "content_key_error"


def key_dir(data_dir: Path) -> Path:
    return data_dir / KEY_DIR_NAME


def is_key_id(text: str) -> bool:
    return bool(_KEY_ID.fullmatch(text))


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    current: bool
    created_at: float


@dataclass(frozen=True)
class _Loaded:
    marker: tuple[int, ...]
    current: str
    keys: dict[str, Aead]


class ContentKeyRing:
    """The keys in `directory`; seals under the current one, opens under any. Thread-safe."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None
        self._nonces: dict[str, NonceSequence] = {}

    def __repr__(self) -> str:
        return f"ContentKeyRing({str(self.directory)!r})"

    # --- administration (the CLI, and the first start of a node) --------------------------------

    @classmethod
    def create_if_missing(cls, directory: Path) -> ContentKeyRing:
        """The ring in `directory`, with a first key if it has none (several processes may race)."""
        ring = cls(directory)
        with ring._exclusive():
            if not (directory / CURRENT_FILE).exists():
                ring._add_key()
        return ring

    @classmethod
    def existing(cls, directory: Path) -> ContentKeyRing:
        """The ring in `directory`; ContentKeyError if there is none."""
        if not (directory / CURRENT_FILE).exists():
            raise ContentKeyError(f"no content key ring in {directory}",
                                  hint="check --data-dir (the node's node.data_dir); "
                                       "`svyaz node content-key rotate` creates the first key")
        ring = cls(directory)
        ring.current_key_id()  # fail here, naming the problem, if it does not load
        return ring

    def rotate(self) -> str:
        """Add a new key and make it current; the old ones stay for reading. Returns the new id."""
        with self._exclusive():
            return self._add_key()

    def retire(self, key_id: str) -> None:
        """Delete `key_id`'s file. The caller checks first that no document is sealed with it."""
        with self._exclusive():
            if not is_key_id(key_id):
                raise ContentKeyError(f"{key_id!r} is not a content key id (16 hex digits)")
            if self._read_current() == key_id:
                raise ContentKeyError(f"{key_id} is the current content key and cannot be retired",
                                      hint="rotate first, then rewrap, then retire the old key")
            path = self.directory / f"{key_id}{KEY_SUFFIX}"
            try:
                path.unlink()
            except FileNotFoundError:
                raise ContentKeyError(f"no content key {key_id} in {self.directory}") from None
            _fsync_dir(self.directory)

    def list(self) -> list[KeyInfo]:
        current = self._read_current()
        infos = [KeyInfo(key_id, key_id == current, path.stat().st_mtime) for key_id, path in self._key_files()]
        return sorted(infos, key=lambda info: (info.created_at, info.key_id))

    # --- ContentSealer ----------------------------------------------------------------------------

    def current_key_id(self) -> str:
        return self._state().current

    def seal(self, plaintext: bytes, associated_data: bytes) -> tuple[str, bytes, bytes]:
        try:
            state = self._state()
        except ContentKeyError as err:
            raise SealFailed(str(err)) from None
        nonce = self._nonce(state.current)
        return state.current, nonce, state.keys[state.current].seal(nonce, plaintext, associated_data)

    def open(self, key_id: str, nonce: bytes, ciphertext: bytes, associated_data: bytes) -> bytes:
        try:
            state = self._state()
            if key_id not in state.keys:
                state = self._state(force=True)  # rotated by another process since this one looked
        except ContentKeyError as err:
            raise SealFailed(str(err)) from None
        aead = state.keys.get(key_id)
        if aead is None:
            raise SealFailed(f"no content key {key_id[:16]!r} in the key ring")
        try:
            return aead.open(nonce, ciphertext, associated_data)
        except AuthenticationFailed:
            raise SealFailed(f"does not authenticate under key {key_id}") from None
        except CryptoError as err:
            raise SealFailed(f"malformed ({err})") from None

    # --- loading -----------------------------------------------------------------------------------

    def _nonce(self, key_id: str) -> bytes:
        with self._lock:
            sequence = self._nonces.get(key_id)
            if sequence is None:
                sequence = self._nonces[key_id] = NonceSequence()
        return sequence.next()

    def _state(self, *, force: bool = False) -> _Loaded:
        marker = self._marker()
        with self._lock:
            if self._loaded is not None and self._loaded.marker == marker and not force:
                return self._loaded
            for _ in range(3):
                loaded = self._load(marker)
                after = self._marker()
                if after == marker:
                    self._loaded = loaded
                    return loaded
                marker = after  # changed while read: again
        raise ContentKeyError(f"the content key ring in {self.directory} keeps changing; try again")

    def _marker(self) -> tuple[int, ...]:
        # `current` is renamed into place by a rotation (new inode); a retire changes the directory.
        try:
            current, directory = (self.directory / CURRENT_FILE).stat(), self.directory.stat()
        except OSError as err:
            raise ContentKeyError(f"cannot read the content key ring {self.directory}: {err.strerror}",
                                  hint="restore content-keys/ from backup, or point node.data_dir at it") from None
        return (current.st_ino, current.st_mtime_ns, current.st_size, directory.st_ino, directory.st_mtime_ns)

    def _load(self, marker: tuple[int, ...]) -> _Loaded:
        _check_private(self.directory, 0o077)
        current = self._read_current()
        keys = {}
        for key_id, path in self._key_files():
            _check_private(path, 0o077)
            secret = path.read_bytes()
            if len(secret) != KEY_BYTES:
                raise ContentKeyError(f"content key file {path} is not {KEY_BYTES} bytes: damaged?")
            keys[key_id] = Aead(secret)
        if current not in keys:
            raise ContentKeyError(f"the current content key {current} has no key file in {self.directory}",
                                  hint="restore it from backup; sealed content under it cannot be read without it")
        return _Loaded(marker, current, keys)

    def _read_current(self) -> str:
        try:
            current = (self.directory / CURRENT_FILE).read_text().strip()
        except OSError as err:
            raise ContentKeyError(f"cannot read {self.directory / CURRENT_FILE}: {err.strerror}") from None
        if not is_key_id(current):
            raise ContentKeyError(f"{self.directory / CURRENT_FILE} does not name a key (16 hex digits)")
        return current

    def _key_files(self) -> Iterator[tuple[str, Path]]:
        for path in sorted(self.directory.glob(f"*{KEY_SUFFIX}")):
            if is_key_id(path.stem):
                yield path.stem, path

    def _add_key(self) -> str:
        key_id = secrets.token_hex(8)
        _write_private(self.directory / f"{key_id}{KEY_SUFFIX}", secrets.token_bytes(KEY_BYTES))
        _write_private(self.directory / CURRENT_FILE, f"{key_id}\n".encode())
        return key_id

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _write_private(path: Path, data: bytes) -> None:
    """`data` in `path` (0600), whole or not at all: written aside, synced, renamed into place."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_private(path: Path, forbidden: int) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & forbidden:
        raise ContentKeyError(f"{path} is readable by others (mode {mode:o})",
                              hint=f"chmod {'700' if path.is_dir() else '600'} {path}")


# --- walking the store: rewrap and the check before a retire -------------------------------------

PROGRESS_FILE = "rewrap-{prefix}.json"


@dataclass
class RewrapReport:
    key_id: str
    collections: dict[str, dict[str, int]]
    unreadable: list[str]
    resumed: bool

    def totals(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for counts in self.collections.values():
            totals.update(counts)
        return dict(totals)


def rewrap_store(client: MongoClient, prefix: str, ring: ContentKeyRing, *, batch: int = 500,
                 on_batch: Callable[[str, RewrapBatch], None] | None = None) -> RewrapReport:
    """Seal every protected document of the node's store (`<prefix>_*`) under the current key.

    Resumable: after each batch, `rewrap-<prefix>.json` in the key ring says how far each
    collection got under which current key; a later run under the same key starts there, and a
    finished run removes it. Documents already under the current key are only read."""
    at_rest = AtRest(ring)
    current = ring.current_key_id()
    progress_path = ring.directory / PROGRESS_FILE.format(prefix=prefix)
    progress = _read_progress(progress_path, current)
    resumed = bool(progress["done"])
    report = RewrapReport(current, {}, [], resumed)
    for suffix, name, spec in PROTECTED_COLLECTIONS:
        where = f"{prefix}_{suffix}.{name}"
        counts: Counter[str] = Counter()
        position = progress["done"].get(where)
        if position == {"complete": True}:
            report.collections[where] = {}
            continue
        after = position["after"] if position else None
        for done in rewrap_documents(client[f"{prefix}_{suffix}"][name], spec, at_rest, after=after, batch=batch):
            counts.update(done.counts)
            report.unreadable.extend(f"{where} {doc_id}" for doc_id in done.unreadable)
            progress["done"][where] = {"after": done.last_id} if done.last_id is not None else None
            _write_progress(progress_path, progress)
            if on_batch is not None:
                on_batch(where, done)
        progress["done"][where] = {"complete": True}
        _write_progress(progress_path, progress)
        report.collections[where] = dict(counts)
    progress_path.unlink(missing_ok=True)
    return report


def documents_sealed_with(client: MongoClient, prefix: str, key_id: str) -> list[str]:
    """Where the store still holds content sealed with `key_id`: one document per collection, at most."""
    found = []
    for suffix, name, spec in PROTECTED_COLLECTIONS:
        doc_id = first_sealed_with(client[f"{prefix}_{suffix}"][name], spec, key_id)
        if doc_id is not None:
            found.append(f"{prefix}_{suffix}.{name} {doc_id}")
    return found


def _read_progress(path: Path, current: str) -> dict:
    try:
        progress = json.loads(path.read_text())
    except FileNotFoundError:
        progress = None
    except (OSError, ValueError) as err:
        raise ContentKeyError(f"cannot read the rewrap progress file {path}: {err}",
                              hint="delete it to start the rewrap from the beginning") from None
    if (not isinstance(progress, dict) or progress.get("key_id") != current
            or not isinstance(progress.get("done"), dict)):
        # Another current key since (a rotation): every collection must be walked again.
        return {"key_id": current, "done": {}}
    return progress


def _write_progress(path: Path, progress: dict) -> None:
    _write_private(path, json.dumps(progress).encode())
