"""A bundle encrypted to an authority's key (svyaz/compliance/lawful/encryption.py): VKO with an
ephemeral key and the project's AEAD in segments, over a tar of the bundle. Real GOST in-process."""

from __future__ import annotations

import base64
import io
import secrets
import tarfile

import pytest

from svyaz.compliance.lawful import encryption
from svyaz.compliance.lawful.bundle import verify_bundle, write_bundle
from svyaz.compliance.lawful.encryption import DecryptionFailed, decrypt_bundle, encrypt_bundle, encrypted_recipient
from svyaz.compliance.lawful.export_key import CURVE
from svyaz.compliance.lawful.model import LawfulRequest, LegalBasis
from svyaz.gost.aead import TAG_BYTES, Aead
from svyaz.gost.kdf import kdf_tree_256
from svyaz.gost.keys import Curve, PrivateKey, PublicKey

BASIS = LegalBasis(kind="court_order", number="1", date="2026-02-01", issuer="court", document_hash="0" * 64)
REQUEST = LawfulRequest(id="lr-ru-00000000000000aa", region="ru", authority="@fsb:ru", subject="@s:ru",
                        categories=("content",), since=0.0, until=1.0, deadline=2.0, basis=BASIS)
# Enough text for several 64 KiB segments.
RECORDS = {"content": [{"seq": n, "text": secrets.token_hex(2000)} for n in range(60)]}


@pytest.fixture(scope="module")
def node_key() -> PrivateKey:
    return PrivateKey.generate(CURVE)


@pytest.fixture(scope="module", params=[Curve.TC26_256_A, Curve.CRYPTOPRO_256_A], ids=lambda c: c.name)
def authority(request) -> PrivateKey:
    return PrivateKey.generate(request.param)


@pytest.fixture
def sealed(tmp_path, node_key, authority):
    (tmp_path / "node").mkdir()
    bundle = write_bundle(tmp_path / "node", REQUEST, RECORDS, key=node_key, created_at=0)
    return encrypt_bundle(bundle.directory, authority.public_key(), tmp_path / f"{REQUEST.id}.svx")


def test_the_authority_opens_it_and_the_bundle_inside_verifies(sealed, tmp_path, node_key, authority):
    opened = decrypt_bundle(sealed, authority, tmp_path / "authority")

    assert opened == tmp_path / "authority" / REQUEST.id
    assert verify_bundle(opened, node_key.public_key().to_pem()).ok
    assert (opened / "content.jsonl").read_bytes() == (tmp_path / "node" / REQUEST.id / "content.jsonl").read_bytes()
    assert encrypted_recipient(sealed) == authority.public_key().fingerprint()
    assert sealed.stat().st_size > 3 * encryption.SEGMENT_BYTES  # several segments
    assert b"content" not in sealed.read_bytes()  # nothing of the tar in clear


def test_another_key_cannot_open_it(sealed, tmp_path, authority):
    with pytest.raises(DecryptionFailed, match=f"encrypted to key {authority.public_key().fingerprint()}"):
        decrypt_bundle(sealed, PrivateKey.generate(authority.curve), tmp_path / "x")


@pytest.mark.parametrize("where", ["header", "first segment", "last segment"])
def test_one_changed_byte_anywhere_fails_and_extracts_nothing(sealed, tmp_path, authority, where):
    data = bytearray(sealed.read_bytes())
    position = {"header": 30, "first segment": 400, "last segment": len(data) - 3}[where]
    data[position] ^= 0x40
    sealed.write_bytes(bytes(data))

    with pytest.raises(DecryptionFailed):
        decrypt_bundle(sealed, authority, tmp_path / "out")
    assert not (tmp_path / "out" / REQUEST.id).exists()


def test_a_file_cut_at_a_segment_boundary_fails(sealed, tmp_path, authority):
    data = sealed.read_bytes()
    header = len(data) - _segments_length(data)
    sealed.write_bytes(data[:header + 2 * (encryption.SEGMENT_BYTES + TAG_BYTES)])

    with pytest.raises(DecryptionFailed, match="segment 1 does not authenticate"):
        decrypt_bundle(sealed, authority, tmp_path / "out")


def test_the_documented_format_opens_with_the_primitives_alone(tmp_path, node_key, authority):
    # docs/compliance.md's description, followed step by step with svyaz.gost and nothing else.
    (tmp_path / "node").mkdir()
    bundle = write_bundle(tmp_path / "node", REQUEST, RECORDS, key=node_key, created_at=0)
    data = encrypt_bundle(bundle.directory, authority.public_key(), tmp_path / "b.svx").read_bytes()
    magic, recipient, ukm, prefix = data[:8], data[8:16], data[16:24], data[24:32]
    segment = int.from_bytes(data[32:36], "big")
    der_end = 38 + int.from_bytes(data[36:38], "big")
    header, body = data[:der_end], data[der_end:]
    ephemeral = PublicKey.from_pem(b"-----BEGIN PUBLIC KEY-----\n" + base64.encodebytes(data[38:der_end])
                                   + b"-----END PUBLIC KEY-----\n")
    aead = Aead(kdf_tree_256(authority.agree(ephemeral, ukm), b"svyaz lawful export v1", ukm, 32))
    pieces = [body[i:i + segment + TAG_BYTES] for i in range(0, len(body), segment + TAG_BYTES)]
    tar = b"".join(aead.open(prefix + i.to_bytes(8, "big"), piece,
                             header + i.to_bytes(8, "big") + bytes([i == len(pieces) - 1]))
                   for i, piece in enumerate(pieces))
    with tarfile.open(fileobj=io.BytesIO(tar), mode="r:") as archive:
        names = archive.getnames()

    assert (magic, recipient.hex(), segment) == (b"SVYZLEX1", authority.public_key().fingerprint(), 65536)
    assert names == [REQUEST.id, *(f"{REQUEST.id}/{name}" for name in
                                   ("content.jsonl", "manifest.json", "manifest.sig", "node-export.pub.pem"))]


def test_a_file_that_is_not_an_export_is_refused(tmp_path, authority):
    path = tmp_path / "x.svx"
    path.write_bytes(b"PK\x03\x04 not ours")
    with pytest.raises(DecryptionFailed, match="not an encrypted Svyaz export"):
        decrypt_bundle(path, authority, tmp_path / "out")


def _segments_length(data: bytes) -> int:
    der_length = int.from_bytes(data[36:38], "big")
    return len(data) - 38 - der_length


def test_tar_members_are_fixed_in_owner_mode_and_time(tmp_path, node_key, authority, monkeypatch):
    (tmp_path / "node").mkdir()
    bundle = write_bundle(tmp_path / "node", REQUEST, {"content": []}, key=node_key, created_at=0)
    members = []
    original = encryption._extract

    def spy(plaintext, out_dir, path):
        with tarfile.open(fileobj=plaintext, mode="r:") as tar:
            members.extend(tar.getmembers())
        plaintext.seek(0)
        return original(plaintext, out_dir, path)

    monkeypatch.setattr(encryption, "_extract", spy)
    decrypt_bundle(encrypt_bundle(bundle.directory, authority.public_key(), tmp_path / "b.svx"), authority,
                   tmp_path / "out")

    assert [m.name for m in members][0] == REQUEST.id
    assert {(m.uid, m.gid, m.mtime, m.uname) for m in members} == {(0, 0, 0, "")}
