"""Key files on disk, written so that no reader ever sees half a key or a private key readable by
others, and so that of several processes creating one key at the same moment exactly one wins.
Used by every key the node keeps (the audit key, the federation key, the export key); `KeyPairFiles`
is a whole key pair kept that way."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from svyaz.errors import SvyazError
from svyaz.gost.errors import CryptoError
from svyaz.gost.keys import Curve, PrivateKey
from svyaz.gost.libcrypto import OpenSslError


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


@dataclass(frozen=True)
class KeyPairFiles:
    """A node's GOST R 34.10-2012 key kept as two files in one directory, made once: the private
    key (PKCS#8 PEM, 0600, in a 0700 directory) and its public half (SubjectPublicKeyInfo PEM, what
    others pin). The files are what `openssl genpkey -engine gost` and `openssl pkey -pubout` write.

    Of several processes creating the key at once exactly one wins and the others load its key. A
    key file of another kind or curve, or readable by others, is refused with `error`, naming the
    path and never quoting the file. A public key without its private key is refused too: making a
    new key silently would change the key everyone pinned."""

    directory: Path
    private_name: str
    public_name: str
    curve: Curve
    name: str                      # what the key is, in messages: "the federation key"
    error: type[SvyazError]        # raised for every problem
    missing_hint: str              # how to get a key where there is none
    pinned_by: str                 # who must pin a new key: "every peer"

    @property
    def private_path(self) -> Path:
        return self.directory / self.private_name

    @property
    def public_path(self) -> Path:
        return self.directory / self.public_name

    def load_or_generate(self) -> PrivateKey:
        if not self.private_path.exists():
            try:
                return self.generate()
            except FileExistsError:
                pass  # another process made it between our check and our link
        return self.load()

    def generate(self) -> PrivateKey:
        """Create the key pair; FileExistsError if a private key is already there."""
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as err:
            raise self.error(f"{self.name} directory {self.directory}: cannot be created "
                             f"({err.strerror or err})") from err
        if self.private_path.exists():
            raise FileExistsError(self.private_path)
        if self.public_path.exists():
            raise self.error(
                f"{self.public_path} exists but {self.private_path} does not: {self.name} was lost or moved",
                hint=f"restore {self.private_name} into {self.directory}; or remove {self.public_name} to make "
                     f"a new key, which {self.pinned_by} must then pin")
        try:
            pem = PrivateKey.generate(self.curve).to_pem()
        except (CryptoError, OpenSslError) as err:
            raise self.error(f"could not generate a GOST R 34.10-2012 key: {err}") from err
        try:
            place_private_key(self.private_path, pem)
        except FileExistsError:
            raise
        except OSError as err:
            raise self.error(f"cannot write {self.name} {self.private_path} ({err.strerror or err})") from err
        return self.load()

    def load(self) -> PrivateKey:
        """The private key (its public half rewritten from it); `error` naming the file otherwise."""
        path = self.private_path
        try:
            # Opened once and checked through the descriptor: the mode checked is that of the bytes read.
            with open(path, "rb") as file:
                mode = os.fstat(file.fileno()).st_mode
                if mode & 0o077:
                    raise self.error(f"{path} is readable by other users (mode {mode & 0o777:o})",
                                     hint=f"chmod 600 {path}")
                pem = file.read()
        except FileNotFoundError:
            raise self.error(f"no {self.name.removeprefix('the ')} at {path}", hint=self.missing_hint) from None
        except IsADirectoryError:
            raise self.error(f"{path} is a directory, not a key file") from None
        except OSError as err:
            raise self.error(f"cannot read {self.name} {path} ({err.strerror or err})") from err
        try:
            key = PrivateKey.from_pem(pem)
        except (CryptoError, OpenSslError) as err:
            # The reasons gost.keys gives never hold key material.
            raise self.error(f"{path} is not a GOST R 34.10-2012 private key: {err}") from None
        if key.curve is not self.curve:
            raise self.error(f"{path} holds a {key.curve.name} key; {self.name} is 256-bit on {self.curve.name}",
                             hint=f"move it away; {self.missing_hint}")
        try:
            # Derived from the private key each load, so it always names the key that signs.
            write_public_key(self.public_path, key.public_key().to_pem())
        except OSError as err:
            raise self.error(f"cannot write the public half of {self.name} {self.public_path} "
                             f"({err.strerror or err})") from err
        return key
