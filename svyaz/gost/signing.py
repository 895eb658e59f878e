"""The node's audit signing key: GOST R 34.10-2012 (256-bit) with Streebog-256, kept in files.

Signing and verifying run in-process (`keys`, the system OpenSSL with Debian's GOST engine); the
files are exactly what the `openssl` command line reads and writes, so an auditor checks a
checkpoint with `openssl dgst -engine gost -md_gost12_256 -verify signing_key.pub.pem`.

`signing_key.pem` is an unencrypted PKCS#8 PEM (what `openssl genpkey -engine gost -algorithm
gost2012_256 -pkeyopt paramset:A` writes), created with mode 0600 and never quoted in a log or an
error message; `signing_key.pub.pem` is its SubjectPublicKeyInfo PEM. A loaded key pair holds the
private key in memory, so its key_id and its signatures always belong to the same key. May import
only the standard library, `svyaz.errors` and `svyaz.gost`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

from svyaz.gost.errors import CryptoError
from svyaz.gost.keyfiles import place_private_key, write_public_key
from svyaz.gost.keys import Curve, PrivateKey, PublicKey
from svyaz.gost.libcrypto import OpenSslError
from svyaz.gost.provider import streebog256

PRIVATE_KEY_FILE = "signing_key.pem"
PUBLIC_KEY_FILE = "signing_key.pub.pem"
SIGNATURE_BYTES = 64  # r and s of a 256-bit GOST R 34.10-2012 signature
# `paramset:A` of `openssl genpkey -algorithm gost2012_256`, as the key has always been made.
CURVE = Curve.CRYPTOPRO_256_A
_PEM_PUBLIC_BEGIN = "-----BEGIN PUBLIC KEY-----"
_PEM_PUBLIC_END = "-----END PUBLIC KEY-----"


class SigningError(OpenSslError):
    """A signing key could not be used: a bad key file, an unreadable path, OpenSSL refused it."""

    code = "gost_signing_error"


@dataclass(frozen=True)
class GostKeyPair:
    """The node's signing key, loaded from `private_key_path` (equal pairs name the same key file
    and public key)."""

    private_key_path: Path
    public_pem: bytes
    key_id: str
    private_key: PrivateKey = field(compare=False, repr=False)

    def sign(self, data: bytes) -> bytes:
        """The 64-byte signature of Streebog-256(`data`), as `openssl dgst -sign` writes it."""
        try:
            signature = self.private_key.sign(data)
        except (OpenSslError, CryptoError) as err:
            raise SigningError(f"could not sign with the audit key: {err}") from err
        if len(signature) != SIGNATURE_BYTES:
            raise SigningError(f"the signature has {len(signature)} bytes, expected {SIGNATURE_BYTES}")
        return signature


def key_id(public_pem: bytes) -> str:
    """First 16 hex digits of Streebog-256 over the public key's DER (SubjectPublicKeyInfo)."""
    return streebog256(public_der(public_pem)).hex()[:16]


def public_der(public_pem: bytes) -> bytes:
    """The DER inside a `BEGIN PUBLIC KEY` PEM block (what `openssl pkey -pubin -outform DER` prints)."""
    text = public_pem.decode("ascii", errors="replace")
    start, end = text.find(_PEM_PUBLIC_BEGIN), text.find(_PEM_PUBLIC_END)
    if start < 0 or end < start:
        raise SigningError("not a PEM public key (no BEGIN/END PUBLIC KEY lines)")
    body = text[start + len(_PEM_PUBLIC_BEGIN) : end]
    try:
        return base64.b64decode("".join(body.split()), validate=True)
    except binascii.Error as err:
        raise SigningError("the PEM public key is not valid base64") from err


def generate_keypair(directory: Path) -> GostKeyPair:
    """Create a new key pair in `directory` (made 0700 if new); FileExistsError if one is there.

    Several processes may race here: the private key is linked into place, which fails for all
    but one of them, so the loser gets FileExistsError and loads the winner's key instead.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    private_path = directory / PRIVATE_KEY_FILE
    if private_path.exists():
        raise FileExistsError(private_path)
    try:
        pem = PrivateKey.generate(CURVE).to_pem()
    except OpenSslError as err:
        raise SigningError(f"could not generate a GOST R 34.10-2012 key: {err}") from err
    place_private_key(private_path, pem)
    return load_keypair(directory)


def load_keypair(directory: Path) -> GostKeyPair:
    """The key pair in `directory`. Refuses a private key that others may read, like ssh does."""
    private_path = directory / PRIVATE_KEY_FILE
    try:
        # Opened once, checked through the descriptor: the mode checked is that of the bytes read.
        with open(private_path, "rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            if mode & 0o077:
                raise SigningError(
                    f"{private_path} is readable by other users (mode {mode & 0o777:o})",
                    hint=f"chmod 600 {private_path}",
                )
            pem = file.read()
    except FileNotFoundError:
        raise SigningError(
            f"no signing key at {private_path}",
            hint="run `svyaz audit keygen` (or pass the directory that holds signing_key.pem)",
        ) from None
    except OSError as err:
        raise SigningError(f"cannot read the signing key {private_path}: {err.strerror}") from err
    try:
        private_key = PrivateKey.from_pem(pem)
    except CryptoError as err:
        raise SigningError(f"{private_path} is not a usable GOST private key: {err}") from err
    except OpenSslError as err:
        raise SigningError(f"could not read the signing key {private_path}: {err}") from err
    if private_key.curve.signature_bytes != SIGNATURE_BYTES:
        raise SigningError(f"{private_path} holds a {private_key.curve.name} key; the audit key is 256-bit")
    public_pem = private_key.public_key().to_pem()
    # The public half is kept next to it for auditors; rewriting it is harmless (same bytes).
    write_public_key(directory / PUBLIC_KEY_FILE, public_pem)
    return GostKeyPair(
        private_key_path=private_path, public_pem=public_pem, key_id=key_id(public_pem), private_key=private_key
    )


def load_or_generate_keypair(directory: Path) -> GostKeyPair:
    """Load the key pair in `directory`, creating it first if there is none."""
    if not (directory / PRIVATE_KEY_FILE).exists():
        try:
            return generate_keypair(directory)
        except FileExistsError:
            pass  # another process made it between our check and our link
    return load_keypair(directory)


def verify(data: bytes, signature: bytes, public_pem: bytes) -> bool:
    """True if `signature` is a GOST R 34.10-2012 signature of Streebog-256(`data`) by `public_pem`.

    False for any signature that does not verify; raises only when verification could not run
    (no engine, a public key that is not a 256-bit GOST key).
    """
    return _public_key(bytes(public_pem)).verify(signature, data)


@functools.lru_cache(maxsize=64)
def _public_key(public_pem: bytes) -> PublicKey:
    # Checkpoints are verified one after another against the same few keys: parse each once.
    try:
        public_key = PublicKey.from_pem(public_pem)
    except CryptoError as err:
        raise SigningError(f"not a usable GOST public key: {err}") from err
    if public_key.curve.signature_bytes != SIGNATURE_BYTES:
        raise SigningError(f"a {public_key.curve.name} public key; audit signatures are 256-bit")
    return public_key
