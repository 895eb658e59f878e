"""Rotating the audit signing key: a new key pair takes the place of the current one, the old
public key is kept in `retired/<key_id>.pub.pem` so that its checkpoints still verify, and the old
private key is destroyed (overwritten, then removed) unless the operator asks to keep it.

Why destroy by default: a key is rotated because it is old or may have leaked; a copy left on the
node could still sign checkpoints `verify` trusts (its public key stays trusted). Overwriting is
best effort: journalling, copy-on-write file systems and SSDs may keep old blocks; the node's disk
encryption covers those.

Nodes keep running: `signing_key.pem` is replaced by a rename, and a node's checkpointer re-loads
the key when the file changes (`signer.KeyDir`). Blocking; one rotation at a time per key dir.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from svyaz.compliance.audit.anchor_file import fsync_directory
from svyaz.compliance.audit.keys import RETIRED_DIR, retired_public_key
from svyaz.gost import signing


@dataclass(frozen=True)
class Rotation:
    old_key_id: str
    new_key_id: str
    retired_public_key: Path
    retired_private_key: Path | None  # only if the operator kept it


@dataclass(frozen=True)
class PendingRotation:
    """A new key made next to the current one, not yet in its place."""

    key_dir: Path
    old: signing.GostKeyPair
    new: signing.GostKeyPair

    def commit(self, *, keep_old_private_key: bool = False) -> Rotation:
        """Put the new key in place; from here on every checkpoint is signed with it."""
        retired = self.key_dir / RETIRED_DIR
        retired.mkdir(mode=0o700, exist_ok=True)
        # The old public key is kept first, so that no moment exists when its checkpoints are
        # signed by a key nobody trusts.
        retired_public = retired_public_key(self.key_dir, self.old.key_id)
        _write_durably(retired_public, self.old.public_pem, mode=0o644)
        current = self.key_dir / signing.PRIVATE_KEY_FILE
        kept: Path | None = None
        if keep_old_private_key:
            kept = retired / f"{self.old.key_id}.pem"
            os.link(current, kept)  # the same 0600 file under a second name
        public = self.key_dir / signing.PUBLIC_KEY_FILE
        old_descriptor = None if keep_old_private_key else os.open(current, os.O_RDWR)
        try:
            # The new public key before the private one, so `verify` trusts every checkpoint at
            # every moment; and again after, in case a process loading the old key rewrote it.
            _write_durably(public, self.new.public_pem, mode=0o644)
            os.replace(self.new.private_key_path, current)
            _write_durably(public, self.new.public_pem, mode=0o644)
            fsync_directory(self.key_dir)
            fsync_directory(retired)
            if old_descriptor is not None:
                _overwrite(old_descriptor)  # the renamed-over file: no name left, this is its last use
        finally:
            if old_descriptor is not None:
                os.close(old_descriptor)
        return Rotation(self.old.key_id, self.new.key_id, retired_public, kept)


@contextmanager
def prepare_rotation(key_dir: Path) -> Iterator[PendingRotation]:
    """Make a new key pair beside the current one, holding the key dir's rotation lock.

    Commit it inside the block; a key not committed is destroyed on the way out, so the caller can
    first record the rotation it is about to make (and make none if that fails).
    """
    signing.load_keypair(key_dir)  # first: a SigningError with a hint if there is no key to rotate
    lock = os.open(key_dir, os.O_RDONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        staging = Path(tempfile.mkdtemp(dir=key_dir, prefix=".rotating-"))
        try:
            current = signing.load_keypair(key_dir)  # again: another rotation may have just ended
            yield PendingRotation(key_dir, current, signing.generate_keypair(staging))
        finally:
            leftover = staging / signing.PRIVATE_KEY_FILE
            if leftover.exists():
                with open(leftover, "r+b") as file:
                    _overwrite(file.fileno())
            shutil.rmtree(staging, ignore_errors=True)
    finally:
        os.close(lock)


def _overwrite(descriptor: int) -> None:
    size = os.fstat(descriptor).st_size
    os.pwrite(descriptor, os.urandom(size), 0)
    os.fsync(descriptor)


def _write_durably(path: Path, content: bytes, *, mode: int) -> None:
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(descriptor, "wb") as file:
        file.write(content)
        file.flush()
        os.fsync(file.fileno())
    os.chmod(name, mode)
    os.replace(name, path)

