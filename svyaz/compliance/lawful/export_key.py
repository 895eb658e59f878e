"""The node's lawful-export key on disk: one GOST R 34.10-2012 256-bit key on TC26-256-A, made once.

    <node.data_dir>/lawful/export_key.pem       the private key: unencrypted PKCS#8 PEM, mode 0600
                                                (the directory 0700)
    <node.data_dir>/lawful/export_key.pub.pem   its SubjectPublicKeyInfo PEM: what authorities pin
                                                out of band (`svyaz lawful export-key` prints it)

A key of its own rather than the audit key: the audit key signs checkpoints that auditors check,
and is rotated on the audit log's schedule (`svyaz audit keygen --rotate`); the export key signs
what leaves the node for an authority, which pins it for years. Keeping them apart means rotating
one never breaks the other's verifications, a leak of one cannot forge the other's statements, and
an authority never needs the audit key (nor learns which one signs the audit log).

The files, and how they are made and checked, are `svyaz.gost.keyfiles.KeyPairFiles`'s.

May import only the standard library, `svyaz.gost` and `svyaz.compliance.lawful.errors`.
"""

from __future__ import annotations

from pathlib import Path

from svyaz.compliance.lawful.errors import LawfulError
from svyaz.gost.errors import CryptoError
from svyaz.gost.keyfiles import KeyPairFiles
from svyaz.gost.keys import Curve, PrivateKey, PublicKey
from svyaz.gost.libcrypto import OpenSslError

KEY_DIR = "lawful"
PRIVATE_KEY_FILE = "export_key.pem"
PUBLIC_KEY_FILE = "export_key.pub.pem"
CURVE = Curve.TC26_256_A


class ExportKeyError(LawfulError):
    """The export key could not be made or read; the message names the file, never its content."""

    code = "lawful_export_key_error"


def key_dir(data_dir: Path) -> Path:
    return Path(data_dir) / KEY_DIR


def _files(directory: Path) -> KeyPairFiles:
    return KeyPairFiles(Path(directory), PRIVATE_KEY_FILE, PUBLIC_KEY_FILE, CURVE, name="the lawful-export key",
                        error=ExportKeyError, missing_hint="the node makes it at its first start; or check node.data_dir",
                        pinned_by="every authority")


def load_or_generate_export_key(directory: Path) -> PrivateKey:
    """The export key in `directory`, created (with the directory, 0700) if there is none."""
    return _files(directory).load_or_generate()


def generate_export_key(directory: Path) -> PrivateKey:
    """Create the key pair in `directory`; FileExistsError if a private key is already there."""
    return _files(directory).generate()


def load_export_key(directory: Path) -> PrivateKey:
    """The key in `directory`; ExportKeyError naming the file if it is missing or unusable."""
    return _files(directory).load()


def read_public_key(directory: Path) -> PublicKey:
    """The export public key kept in `directory` (what `svyaz lawful export-key` prints)."""
    path = Path(directory) / PUBLIC_KEY_FILE
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        raise ExportKeyError(f"no lawful-export public key at {path}",
                             hint="the node makes the key at its first start with this data_dir") from None
    except OSError as err:
        raise ExportKeyError(f"cannot read {path} ({err.strerror or err})") from err
    try:
        return PublicKey.from_pem(pem)
    except (CryptoError, OpenSslError) as err:
        raise ExportKeyError(f"{path} is not a GOST public key: {err}") from None
