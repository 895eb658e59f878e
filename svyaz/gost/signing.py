"""GOST R 34.10-2012 signatures (256-bit, parameter set A) with Streebog-256, through the `openssl`
binary and Debian's GOST *engine*.

Why the binary and the engine: on OpenSSL 3.0 with libengine-gost-openssl the GOST *provider*
(which hashlib uses, see `provider`) cannot generate or load gost2012 keys, but `openssl -engine gost`
can. Driving the command line also means a signature made here verifies with exactly the
`openssl dgst -engine gost -md_gost12_256 -verify` an auditor runs by hand.

Data goes to openssl on stdin; files are used only where openssl insists on a path (keys and the
signature to verify). The private key file is created with mode 0600 and is never read into a log
or an error message. May import only the standard library, `svyaz.errors` and `svyaz.gost`.
"""

from __future__ import annotations

import base64
import binascii
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from svyaz.gost.openssl import ENGINE, OpenSslFailed, output, reason, run
from svyaz.gost.provider import streebog256

PRIVATE_KEY_FILE = "signing_key.pem"
PUBLIC_KEY_FILE = "signing_key.pub.pem"
SIGNATURE_BYTES = 64  # r and s of a 256-bit GOST R 34.10-2012 signature
_PEM_PUBLIC_BEGIN = "-----BEGIN PUBLIC KEY-----"
_PEM_PUBLIC_END = "-----END PUBLIC KEY-----"


class SigningError(OpenSslFailed):
    """openssl ran but could not sign, verify or handle a key (a bad key file, an unreadable path, ...)."""

    code = "gost_signing_error"


@dataclass(frozen=True)
class GostKeyPair:
    """The node's signing key. The private half lives only in the 0600 file, which openssl reads."""

    private_key_path: Path
    public_pem: bytes
    key_id: str

    def sign(self, data: bytes) -> bytes:
        """The 64-byte signature of Streebog-256(`data`), as `openssl dgst -sign` writes it."""
        signature = output(
            ["dgst", "-engine", ENGINE, "-md_gost12_256", "-sign", str(self.private_key_path)],
            data=data,
            doing="sign with the audit key",
            failure=SigningError,
        )
        if len(signature) != SIGNATURE_BYTES:
            raise SigningError(
                f"openssl returned a {len(signature)}-byte signature, expected {SIGNATURE_BYTES}"
            )
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
    pem = output(
        ["genpkey", "-engine", ENGINE, "-algorithm", "gost2012_256", "-pkeyopt", "paramset:A"],
        doing="generate a GOST R 34.10-2012 key", failure=SigningError,
    )
    temporary = _write_private(directory, pem)
    try:
        os.link(temporary, private_path)
    finally:
        temporary.unlink()
    return load_keypair(directory)


def load_keypair(directory: Path) -> GostKeyPair:
    """The key pair in `directory`. Refuses a private key that others may read, like ssh does."""
    private_path = directory / PRIVATE_KEY_FILE
    try:
        mode = private_path.stat().st_mode
    except FileNotFoundError:
        raise SigningError(
            f"no signing key at {private_path}",
            hint="run `svyaz audit keygen` (or pass the directory that holds signing_key.pem)",
        ) from None
    if mode & 0o077:
        raise SigningError(
            f"{private_path} is readable by other users (mode {mode & 0o777:o})",
            hint=f"chmod 600 {private_path}",
        )
    public_pem = output(
        ["pkey", "-engine", ENGINE, "-in", str(private_path), "-pubout"], doing="read the signing key",
        failure=SigningError,
    )
    # The public half is kept next to it for auditors; rewriting it is harmless (same bytes).
    public_path = directory / PUBLIC_KEY_FILE
    if not public_path.exists() or public_path.read_bytes() != public_pem:
        _write_atomically(public_path, public_pem)
    return GostKeyPair(private_key_path=private_path, public_pem=public_pem, key_id=key_id(public_pem))


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
    (no engine, a public key openssl cannot read).
    """
    with tempfile.TemporaryDirectory(prefix="svyaz-verify-") as scratch:
        public_path, signature_path = Path(scratch) / "public.pem", Path(scratch) / "signature"
        public_path.write_bytes(public_pem)
        signature_path.write_bytes(signature)
        result = run(
            ["dgst", "-engine", ENGINE, "-md_gost12_256", "-verify", str(public_path),
             "-signature", str(signature_path)],
            data=data,
            doing="verify a signature",
        )
    if result.returncode == 0 and b"Verified OK" in result.stdout:
        return True
    if b"Verification failure" in result.stdout:
        return False
    raise SigningError(f"openssl could not verify a signature: {reason(result.stderr)}")


def _write_private(directory: Path, pem: bytes) -> Path:
    # mkstemp creates the file 0600 with O_EXCL: the key is never readable by others, not even
    # for an instant, and concurrent writers never share a temporary name.
    descriptor, name = tempfile.mkstemp(dir=directory, prefix=f".{PRIVATE_KEY_FILE}.", suffix=".tmp")
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
        file.flush()
        os.fsync(file.fileno())
    return Path(name)


def _write_atomically(path: Path, content: bytes) -> None:
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(descriptor, "wb") as file:
        file.write(content)
    os.chmod(name, 0o644)  # a public key: auditors and other accounts may read it
    os.replace(name, path)
