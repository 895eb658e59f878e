"""Key files on disk, written so that no reader ever sees half a key or a private key readable by
others, and so that of several processes creating one key at the same moment exactly one wins.
Used by every key the node keeps (the audit key, the federation key, the export key)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def place_private_key(path: Path, pem: bytes) -> None:
    """Write `pem` to `path`, mode 0600; FileExistsError if a key is there already (another
    process won the race: load its key instead)."""
    # mkstemp creates the file 0600 with O_EXCL: never readable by others, not even for an instant,
    # and concurrent writers never share a temporary name. Linking into place fails for all but one.
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
            file.flush()
            os.fsync(file.fileno())
        os.link(temporary, path)
    finally:
        temporary.unlink()
    _sync_directory(path.parent)


def write_public_key(path: Path, pem: bytes) -> None:
    """Write a public key PEM to `path` (mode 0644: operators and peers read it), atomically, and
    only if it does not already hold exactly `pem`."""
    if path.exists() and path.read_bytes() == pem:
        return
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    os.chmod(name, 0o644)
    os.replace(name, path)


def _sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
