"""The node's federation key on disk: one GOST R 34.10-2012 256-bit key on TC26-256-A, made once.

    <key_dir>/node.key       the private key: unencrypted PKCS#8 PEM, mode 0600 (the directory 0700)
    <key_dir>/node.pub.pem   its SubjectPublicKeyInfo PEM: what every peer pins in [federation.peers]

The files are what `openssl genpkey -engine gost -algorithm gost2012_256 -pkeyopt paramset:TCA` and
`openssl pkey -pubout` write. The private key is written to a temporary 0600 file and linked into
place, so a reader never sees half a key and, when several processes of a node start at once,
exactly one key wins and the others load it. A key file of another kind (a public key, a 512-bit
or CryptoPro key, garbage) or readable by others is refused with an error naming the path, never
quoting the file. A public key without its private key is refused too: making a new key silently
would change the node's key id under its peers' pins.

May import only the standard library, `svyaz.gost` and `svyaz.federation`.
"""

from __future__ import annotations

import os
from pathlib import Path

from svyaz.federation.errors import FederationConfigError
from svyaz.gost.errors import CryptoError
from svyaz.gost.keyfiles import place_private_key, write_public_key
from svyaz.gost.keys import Curve, PrivateKey
from svyaz.gost.libcrypto import OpenSslError

PRIVATE_KEY_FILE = "node.key"
PUBLIC_KEY_FILE = "node.pub.pem"
CURVE = Curve.TC26_256_A


def load_or_generate_federation_key(directory: Path) -> PrivateKey:
    """The federation key in `directory`, created (with the directory, 0700) if there is none."""
    directory = Path(directory)
    private_path = directory / PRIVATE_KEY_FILE
    if not private_path.exists():
        try:
            return generate_federation_key(directory)
        except FileExistsError:
            pass  # another process of the node made it between our check and our link
    return load_federation_key(directory)


def generate_federation_key(directory: Path) -> PrivateKey:
    """Create the key pair in `directory`; FileExistsError if a private key is already there."""
    directory = Path(directory)
    private_path, public_path = directory / PRIVATE_KEY_FILE, directory / PUBLIC_KEY_FILE
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as err:
        raise FederationConfigError(f"federation key directory {directory}: cannot be created "
                                    f"({err.strerror or err})") from err
    if private_path.exists():
        raise FileExistsError(private_path)
    if public_path.exists():
        raise FederationConfigError(
            f"{public_path} exists but {private_path} does not: the federation key was lost or moved",
            hint=f"restore {PRIVATE_KEY_FILE} into {directory}; or remove {PUBLIC_KEY_FILE} to make a new key, "
                 "which every peer must then pin")
    try:
        key = PrivateKey.generate(CURVE)
        pem = key.to_pem()
    except (CryptoError, OpenSslError) as err:
        raise FederationConfigError(f"could not generate a GOST R 34.10-2012 key: {err}") from err
    try:
        place_private_key(private_path, pem)  # FileExistsError for all but one racing process
    except FileExistsError:
        raise
    except OSError as err:
        raise FederationConfigError(f"cannot write the federation key {private_path} "
                                    f"({err.strerror or err})") from err
    return load_federation_key(directory)


def load_federation_key(directory: Path) -> PrivateKey:
    """The key in `directory`; FederationConfigError naming the file if it is missing or unusable."""
    private_path = Path(directory) / PRIVATE_KEY_FILE
    try:
        # Opened once and checked through the descriptor: the mode checked is that of the bytes read.
        with open(private_path, "rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            if mode & 0o077:
                raise FederationConfigError(f"{private_path} is readable by other users (mode {mode & 0o777:o})",
                                            hint=f"chmod 600 {private_path}")
            pem = file.read()
    except FileNotFoundError:
        raise FederationConfigError(f"no federation key at {private_path}",
                                    hint="run `svyaz federation keygen --dir DIR`") from None
    except IsADirectoryError:
        raise FederationConfigError(f"{private_path} is a directory, not a key file") from None
    except OSError as err:
        raise FederationConfigError(f"cannot read the federation key {private_path} ({err.strerror or err})") from err
    try:
        key = PrivateKey.from_pem(pem)
    except (CryptoError, OpenSslError) as err:
        # The reasons gost.keys gives never hold key material.
        raise FederationConfigError(f"{private_path} is not a GOST R 34.10-2012 private key: {err}") from None
    if key.curve is not CURVE:
        raise FederationConfigError(
            f"{private_path} holds a {key.curve.name} key; the federation key is 256-bit on {CURVE.name}",
            hint=f"move it away and run `svyaz federation keygen --dir {private_path.parent}`")
    _write_public(Path(directory) / PUBLIC_KEY_FILE, key.public_key().to_pem())
    return key


def _write_public(path: Path, pem: bytes) -> None:
    # Derived from the private key each load, so it always names the key that signs.
    try:
        write_public_key(path, pem)
    except OSError as err:
        raise FederationConfigError(f"cannot write the federation public key {path} ({err.strerror or err})") from err
