"""The key the checkpointer signs with, as it is *now* on disk.

`svyaz audit keygen --rotate` replaces `signing_key.pem` (and destroys the old private key) while
nodes run. A `GostKeyPair` loaded at start-up would go on signing with the retired key from memory.
`KeyDir` re-loads the key when the file changes, and a pinned key refuses to sign once its file has
been replaced, so a rotated-out key signs nothing more.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from svyaz.compliance.audit.keys import PublicKeys, trusted_public_keys
from svyaz.gost import signing

_RELOAD_TRIES = 3


class Signer(Protocol):
    """A key that signs (`svyaz.gost.signing.GostKeyPair` is one)."""

    @property
    def key_id(self) -> str: ...

    @property
    def public_pem(self) -> bytes: ...

    def sign(self, data: bytes) -> bytes: ...


class SigningKeys(Protocol):
    @property
    def key_dir(self) -> Path | None:
        """Where the keys live; None for a key held elsewhere."""
        ...

    def current(self) -> Signer:
        """The key to sign the next checkpoint with; its key_id and its signatures agree."""
        ...

    def trusted(self) -> PublicKeys:
        """The keys this node's own earlier checkpoints may be signed with."""
        ...


def signing_keys(signer: Signer) -> SigningKeys:
    """Follow the key file of a key pair loaded from a key dir; any other signer is used as it is."""
    if isinstance(signer, signing.GostKeyPair) and signer.private_key_path.name == signing.PRIVATE_KEY_FILE:
        return KeyDir(signer.private_key_path.parent)
    return FixedKey(signer)


@dataclass(frozen=True)
class FixedKey:
    signer: Signer
    key_dir: Path | None = None

    def current(self) -> Signer:
        return self.signer

    def trusted(self) -> PublicKeys:
        return PublicKeys(pems=[self.signer.public_pem])


class KeyReplaced(signing.SigningError):
    """The key file was replaced (a rotation): the key in hand is retired and signs no more."""

    code = "audit_key_replaced"


_Identity = tuple[int, int, int, int]


def _identity(path: Path) -> _Identity:
    # A rotation renames a new file into place, which changes the inode and ctime.
    status = path.stat()
    return status.st_dev, status.st_ino, status.st_ctime_ns, status.st_size


@dataclass(frozen=True)
class PinnedKey:
    """One version of the key file: signs only while that version is still the file's."""

    keypair: signing.GostKeyPair
    identity: _Identity

    @property
    def key_id(self) -> str:
        return self.keypair.key_id

    @property
    def public_pem(self) -> bytes:
        return self.keypair.public_pem

    def sign(self, data: bytes) -> bytes:
        path = self.keypair.private_key_path
        try:
            signature = self.keypair.sign(data)
        except signing.SigningError as err:
            if self._replaced(path):
                raise KeyReplaced("the audit signing key was rotated while signing; try again") from err
            raise
        # Checked after signing too: a rotation during the call must not let the retired key's
        # signature out (a replaced file never comes back under the same identity).
        if self._replaced(path):
            raise KeyReplaced("the audit signing key was rotated while signing; try again")
        return signature

    def _replaced(self, path: Path) -> bool:
        try:
            return _identity(path) != self.identity
        except FileNotFoundError:
            return True


class KeyDir:
    """The signing key in `key_dir`, re-loaded whenever `signing_key.pem` is replaced."""

    def __init__(self, key_dir: Path) -> None:
        self.key_dir = key_dir
        self._path = key_dir / signing.PRIVATE_KEY_FILE
        self._pinned: PinnedKey | None = None
        self._lock = threading.Lock()  # checkpoints by count and by time may run in two threads

    def current(self) -> PinnedKey:
        with self._lock:
            for _ in range(_RELOAD_TRIES):
                before = self._identity()
                if self._pinned is not None and self._pinned.identity == before:
                    return self._pinned
                keypair = signing.load_keypair(self.key_dir)
                if self._identity() == before:  # else replaced while we read it: again
                    self._pinned = PinnedKey(keypair, before)
                    return self._pinned
        raise KeyReplaced(f"the audit signing key in {self.key_dir} keeps changing; try again")

    def _identity(self) -> _Identity:
        try:
            return _identity(self._path)
        except OSError as err:
            # A SigningError, like every other key problem, so the checkpoint triggers log it.
            raise signing.SigningError(
                f"cannot read the audit signing key {self._path}: {err.strerror}",
                hint="run `svyaz audit keygen` (or restore the key directory)",
            ) from err

    def trusted(self) -> PublicKeys:
        return PublicKeys(paths=trusted_public_keys(self.key_dir), pems=[self.current().public_pem])
