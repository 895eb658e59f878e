"""The node's federation key on disk: one GOST R 34.10-2012 256-bit key on TC26-256-A, made once.

    <key_dir>/node.key       the private key: unencrypted PKCS#8 PEM, mode 0600 (the directory 0700)
    <key_dir>/node.pub.pem   its SubjectPublicKeyInfo PEM: what every peer pins in [federation.peers]

The files, and how they are made and checked, are `svyaz.gost.keyfiles.KeyPairFiles`'s: what
`openssl genpkey -engine gost` writes, one winner among racing processes, a key of another kind or
curve or readable by others refused, and a public key without its private key refused (a new key
made silently would change the node's key id under its peers' pins).

May import only the standard library, `svyaz.gost` and `svyaz.federation`.
"""

from __future__ import annotations

from pathlib import Path

from svyaz.federation.errors import FederationConfigError
from svyaz.gost.keyfiles import KeyPairFiles
from svyaz.gost.keys import Curve, PrivateKey

PRIVATE_KEY_FILE = "node.key"
PUBLIC_KEY_FILE = "node.pub.pem"
CURVE = Curve.TC26_256_A


def _files(directory: Path) -> KeyPairFiles:
    return KeyPairFiles(Path(directory), PRIVATE_KEY_FILE, PUBLIC_KEY_FILE, CURVE, name="the federation key",
                        error=FederationConfigError, missing_hint="run `svyaz federation keygen --dir DIR`",
                        pinned_by="every peer")


def load_or_generate_federation_key(directory: Path) -> PrivateKey:
    """The federation key in `directory`, created (with the directory, 0700) if there is none."""
    return _files(directory).load_or_generate()


def generate_federation_key(directory: Path) -> PrivateKey:
    """Create the key pair in `directory`; FileExistsError if a private key is already there."""
    return _files(directory).generate()


def load_federation_key(directory: Path) -> PrivateKey:
    """The key in `directory`; FederationConfigError naming the file if it is missing or unusable."""
    return _files(directory).load()
