"""A bundle encrypted to an authority's GOST public key: one file, `<request id>.svx`.

The plaintext is an uncompressed POSIX tar of the bundle directory `<request id>/` (its files,
nothing else). It is encrypted in segments with the project's AEAD (svyaz.gost.aead:
Kuznyechik-CTR-ACPKM + Kuznyechik-OMAC) under a key agreed with VKO and a fresh ephemeral key:

    header  = "SVYZLEX1"                      8 bytes, the format and its version
              recipient fingerprint           8 bytes: the first 8 of Streebog-256 over the
                                              recipient key's DER SubjectPublicKeyInfo
              UKM                             8 bytes, random, not zero
              nonce prefix                    8 bytes, random
              segment size S                  4 bytes, big-endian (65536 as written here)
              length of E                     2 bytes, big-endian
              E                               the ephemeral public key, DER SubjectPublicKeyInfo,
                                              on the recipient key's curve
    K       = KDF_TREE_GOSTR3411_2012_256(VKO_GOSTR3410_2012_256(e, R, UKM),
                                          label "svyaz lawful export v1", seed UKM, 32 bytes)
    segment i (from 0) = AEAD(K).seal(nonce = prefix | be64(i), tar[i*S : (i+1)*S],
                                      ad = header | be64(i) | final_i)
              each S + 16 bytes long but the last (16 to S + 16 bytes); final_i is 1 byte,
              1 for the last segment and 0 for the others

The final flag in the associated data makes a file cut at a segment boundary fail to open, the
index makes segments impossible to reorder, and the header in every segment's associated data
binds them all to one ephemeral key and recipient. Opening authenticates every segment before
anything is extracted, and extracts only regular files named `<request id>/<file>`.

Pure apart from the files it reads and writes; may import only the standard library, `svyaz.errors`,
`svyaz.gost` and `svyaz.compliance.lawful`.
"""

from __future__ import annotations

import base64
import io
import os
import secrets
import struct
import tarfile
import tempfile
from pathlib import Path

from svyaz.compliance.lawful.bundle import BundleError, check_bundle_id
from svyaz.gost.aead import NONCE_BYTES, TAG_BYTES, Aead
from svyaz.gost.errors import AuthenticationFailed, CryptoError
from svyaz.gost.kdf import kdf_tree_256
from svyaz.gost.keys import UKM_BYTES, PrivateKey, PublicKey
from svyaz.gost.libcrypto import OpenSslError

MAGIC = b"SVYZLEX1"
LABEL = b"svyaz lawful export v1"
SEGMENT_BYTES = 1 << 16
SUFFIX = ".svx"
_FIXED = struct.Struct(">8s8s8s8sIH")
_MIN_SEGMENT, _MAX_SEGMENT = 1 << 10, 1 << 24
_MAX_FILES = 64


class DecryptionFailed(BundleError):
    """An encrypted bundle that does not open: another recipient, changed, cut short, or not one."""

    code = "lawful_bundle_undecryptable"


def encrypt_bundle(directory: Path, recipient: PublicKey, out: Path) -> Path:
    """Write `out` (which must not exist): the bundle directory `directory` encrypted to `recipient`."""
    directory = Path(directory)
    bundle_id = check_bundle_id(directory.name)
    ephemeral = PrivateKey.generate(recipient.curve)
    ukm = _nonzero(UKM_BYTES)
    prefix = secrets.token_bytes(NONCE_BYTES - 8)
    ephemeral_der = ephemeral.public_key().to_der()
    header = _FIXED.pack(MAGIC, bytes.fromhex(recipient.fingerprint()), ukm, prefix, SEGMENT_BYTES,
                         len(ephemeral_der)) + ephemeral_der
    try:
        key = kdf_tree_256(ephemeral.agree(recipient, ukm), LABEL, ukm, 32)
    except (CryptoError, OpenSslError) as err:
        raise BundleError(f"cannot agree a key with the recipient's public key: {err}") from err
    try:
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as err:
        raise BundleError(f"cannot create {out} ({err.strerror or err})") from err
    with os.fdopen(descriptor, "wb") as sink:
        sink.write(header)
        segments = _SegmentWriter(sink, Aead(key), prefix, header)
        with tarfile.open(fileobj=segments, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            tar.addfile(_member(bundle_id, tarfile.DIRTYPE, 0))
            for path in sorted(directory.iterdir()):
                if not path.is_file() or path.is_symlink():
                    raise BundleError(f"{path} is not a regular file; a bundle holds files only")
                info = _member(f"{bundle_id}/{path.name}", tarfile.REGTYPE, path.stat().st_size)
                with open(path, "rb") as file:
                    tar.addfile(info, file)
        segments.close()
        sink.flush()
        os.fsync(sink.fileno())
    return Path(out)


def decrypt_bundle(path: Path, private_key: PrivateKey, out_dir: Path) -> Path:
    """Open `path` with the recipient's `private_key` and extract its bundle into `out_dir`
    (created if missing); returns the bundle directory. DecryptionFailed if it does not open."""
    path, out_dir = Path(path), Path(out_dir)
    try:
        source = open(path, "rb")
    except OSError as err:
        raise BundleError(f"cannot read {path} ({err.strerror or err})") from err
    with source, tempfile.TemporaryFile() as plaintext:
        header, segment_size, key = _open_header(source, private_key, path)
        aead = Aead(key)
        prefix = header[24:32]
        index, current = 0, source.read(segment_size + TAG_BYTES)
        while True:
            following = source.read(segment_size + TAG_BYTES)
            final = not following
            if len(current) < TAG_BYTES or (not final and len(current) != segment_size + TAG_BYTES):
                raise DecryptionFailed(f"{path}: segment {index} is cut short")
            try:
                plaintext.write(aead.open(prefix + index.to_bytes(8, "big"), current,
                                          header + index.to_bytes(8, "big") + bytes([final])))
            except AuthenticationFailed:
                raise DecryptionFailed(f"{path}: segment {index} does not authenticate "
                                       "(changed, reordered, or cut short)") from None
            if final:
                break
            index, current = index + 1, following
        plaintext.seek(0)
        return _extract(plaintext, out_dir, path)


def encrypted_recipient(path: Path) -> str:
    """The fingerprint (16 hex digits) of the key an encrypted bundle is for."""
    with open(path, "rb") as file:
        fixed = file.read(_FIXED.size)
    if len(fixed) != _FIXED.size or fixed[:8] != MAGIC:
        raise DecryptionFailed(f"{path} is not an encrypted Svyaz export ({MAGIC.decode()})")
    return fixed[8:16].hex()


class _SegmentWriter(io.RawIOBase):
    """A write-only stream that seals what it is given in segments; the last one on close()."""

    def __init__(self, sink, aead: Aead, prefix: bytes, header: bytes) -> None:
        super().__init__()
        self._sink, self._aead, self._prefix, self._header = sink, aead, prefix, header
        self._buffer = bytearray()
        self._index = 0
        self._finished = False

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._buffer += data
        # Strictly more than a segment: what is left at close() is always the final segment.
        while len(self._buffer) > SEGMENT_BYTES:
            self._seal(bytes(self._buffer[:SEGMENT_BYTES]), final=False)
            del self._buffer[:SEGMENT_BYTES]
        return len(data)

    def close(self) -> None:
        if not self._finished:
            self._finished = True
            self._seal(bytes(self._buffer), final=True)
            self._buffer.clear()
        super().close()

    def _seal(self, chunk: bytes, *, final: bool) -> None:
        index = self._index.to_bytes(8, "big")
        self._sink.write(self._aead.seal(self._prefix + index, chunk, self._header + index + bytes([final])))
        self._index += 1


def _open_header(source, private_key: PrivateKey, path: Path) -> tuple[bytes, int, bytes]:
    fixed = source.read(_FIXED.size)
    if len(fixed) != _FIXED.size or fixed[:8] != MAGIC:
        raise DecryptionFailed(f"{path} is not an encrypted Svyaz export ({MAGIC.decode()})")
    _magic, recipient, ukm, _prefix, segment_size, der_length = _FIXED.unpack(fixed)
    mine = private_key.public_key().fingerprint()
    if recipient.hex() != mine:
        raise DecryptionFailed(f"{path} is encrypted to key {recipient.hex()}, not to this key ({mine})")
    if not _MIN_SEGMENT <= segment_size <= _MAX_SEGMENT:
        raise DecryptionFailed(f"{path}: a segment size of {segment_size} bytes is not one this tool writes")
    der = source.read(der_length)
    try:
        pem = b"-----BEGIN PUBLIC KEY-----\n" + base64.encodebytes(der) + b"-----END PUBLIC KEY-----\n"
        ephemeral = PublicKey.from_pem(pem)
        if ephemeral.curve is not private_key.curve:
            raise ValueError("another curve")
        key = kdf_tree_256(private_key.agree(ephemeral, ukm), LABEL, ukm, 32)
    except (CryptoError, OpenSslError, ValueError):
        raise DecryptionFailed(f"{path}: its ephemeral key is not a point of {private_key.curve.name}") from None
    return fixed + der, segment_size, key


def _extract(plaintext, out_dir: Path, path: Path) -> Path:
    try:
        with tarfile.open(fileobj=plaintext, mode="r:") as tar:
            members = tar.getmembers()
            if not members or not members[0].isdir():
                raise DecryptionFailed(f"{path}: the archive does not start with the bundle directory")
            bundle_id = check_bundle_id(members[0].name)
            files = members[1:]
            if len(files) > _MAX_FILES:
                raise DecryptionFailed(f"{path}: {len(files)} files; a bundle has a handful")
            for member in files:
                parent, _, name = member.name.partition("/")
                if (not member.isreg() or parent != bundle_id or not name or "/" in name or name.startswith(".")):
                    raise DecryptionFailed(f"{path}: refusing archive member {member.name[:80]!r}")
            target = out_dir / bundle_id
            out_dir.mkdir(parents=True, exist_ok=True)
            target.mkdir(mode=0o700)
            for member in files:
                source = tar.extractfile(member)
                assert source is not None
                with source, open(target / member.name.partition("/")[2], "xb") as sink:
                    while chunk := source.read(1 << 20):
                        sink.write(chunk)
    except tarfile.TarError as err:
        raise DecryptionFailed(f"{path}: the decrypted archive is not a tar ({err})") from None
    except FileExistsError:
        raise BundleError(f"{out_dir} already holds a bundle of that name; extract it elsewhere") from None
    return target


def _member(name: str, kind: bytes, size: int) -> tarfile.TarInfo:
    # Fixed owner, mode and time: the archive says nothing about the node's accounts or clock.
    info = tarfile.TarInfo(name)
    info.type, info.size, info.mtime = kind, size, 0
    info.mode = 0o700 if kind == tarfile.DIRTYPE else 0o600
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _nonzero(size: int) -> bytes:
    while not any(value := secrets.token_bytes(size)):
        pass
    return value
