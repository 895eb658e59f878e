"""Writing a lawful export bundle and checking it (svyaz/compliance/lawful/bundle.py): real GOST
signatures in-process, files in a temporary directory."""

from __future__ import annotations

import json

import pytest

from svyaz.compliance.lawful.bundle import (
    FORMAT,
    MANIFEST,
    PUBLIC_KEY,
    SIGNATURE,
    BundleError,
    jsonl,
    streebog256_hex,
    verify_bundle,
    write_bundle,
)
from svyaz.compliance.lawful.export_key import CURVE
from svyaz.compliance.lawful.model import LawfulRequest, LegalBasis
from svyaz.gost.keys import Curve, PrivateKey

BASIS = LegalBasis(kind="court_order", number="A-17/2026", date="2026-02-01", issuer="Tverskoy District Court",
                   document_hash="ab" * 32)
REQUEST = LawfulRequest(id="lr-ru-0123456789abcdef", region="ru", authority="@mvd:ru", subject="@suspect:ru",
                        categories=("metadata", "content"), since=1_767_225_600.0, until=1_769_904_000.0,
                        deadline=1_800_000_000.0, basis=BASIS, state="approved",
                        approvals=("@officer-a:ru", "@officer-b:ru"))
RECORDS = {
    "metadata": [{"record": "message", "chat": "dm/@a:ru/@suspect:ru", "seq": 1, "sender": "@a:ru"}],
    "content": [{"seq": 1, "chat": "dm/@a:ru/@suspect:ru", "text": "Привет, \"мир\" 😀", "sender": "@a:ru"}],
}


@pytest.fixture(scope="module")
def key() -> PrivateKey:
    return PrivateKey.generate(CURVE)


@pytest.fixture
def bundle(tmp_path, key):
    return write_bundle(tmp_path, REQUEST, RECORDS, key=key, created_at=1_770_000_000.5,
                        notices=["media: references only"])


def test_a_bundle_holds_one_canonical_jsonl_per_requested_category_and_verifies(bundle, key):
    names = sorted(path.name for path in bundle.directory.iterdir())
    result = verify_bundle(bundle.directory, key.public_key().to_pem())

    assert bundle.directory.name == REQUEST.id
    assert names == sorted(["content.jsonl", "metadata.jsonl", MANIFEST, SIGNATURE, PUBLIC_KEY])
    assert (bundle.directory / "content.jsonl").read_bytes() == (
        '{"chat":"dm/@a:ru/@suspect:ru","sender":"@a:ru","seq":1,"text":"Привет, \\"мир\\" 😀"}\n'.encode())
    assert result.ok, result.problems
    assert result.key_source == "pinned" and result.key_fingerprint == key.public_key().fingerprint()
    assert [entry["name"] for entry in result.files] == ["metadata.jsonl", "content.jsonl"]


def test_the_manifest_says_what_was_asked_and_hashes_every_file(bundle, key):
    manifest = json.loads((bundle.directory / MANIFEST).read_bytes())

    assert manifest["format"] == FORMAT
    assert manifest["request"]["id"] == REQUEST.id and manifest["request"]["subject"] == "@suspect:ru"
    assert manifest["request"]["categories"] == ["metadata", "content"]
    assert manifest["request"]["legal_basis"]["number"] == "A-17/2026"
    assert manifest["request"]["time_range"]["since"] == "2026-01-01T00:00:00.000000Z"
    assert manifest["request"]["approved_by"] == ["@officer-a:ru", "@officer-b:ru"]
    assert manifest["created_at"] == "2026-02-02T02:40:00.500000Z"
    assert manifest["export_key"]["fingerprint"] == key.public_key().fingerprint()
    for entry in manifest["files"]:
        data = (bundle.directory / entry["name"]).read_bytes()
        assert (entry["size"], entry["streebog256"], entry["records"]) == (len(data), streebog256_hex(data), 1)
    assert key.public_key().verify((bundle.directory / SIGNATURE).read_bytes(),
                                   (bundle.directory / MANIFEST).read_bytes())


def test_one_changed_byte_in_one_file_is_named(bundle, key):
    path = bundle.directory / "content.jsonl"
    data = bytearray(path.read_bytes())
    data[5] ^= 0x01
    path.write_bytes(bytes(data))

    result = verify_bundle(bundle.directory, key.public_key().to_pem())

    assert not result.ok
    assert result.first_bad == "content.jsonl"
    assert "Streebog-256" in result.problems[0]


def test_a_missing_file_is_named(bundle, key):
    (bundle.directory / "metadata.jsonl").unlink()

    result = verify_bundle(bundle.directory, key.public_key().to_pem())

    assert (result.ok, result.first_bad) == (False, "metadata.jsonl")
    assert "missing" in result.problems[0]


def test_a_longer_file_an_unlisted_file_and_a_missing_manifest_are_named(tmp_path, key):
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
    grown = write_bundle(tmp_path / "a", REQUEST, RECORDS, key=key, created_at=0)
    with open(grown.directory / "metadata.jsonl", "ab") as file:
        file.write(b"{}\n")
    extra = write_bundle(tmp_path / "b", REQUEST, RECORDS, key=key, created_at=0)
    (extra.directory / "media.jsonl").write_bytes(b"")
    no_manifest = write_bundle(tmp_path / "c", REQUEST, RECORDS, key=key, created_at=0)
    (no_manifest.directory / MANIFEST).unlink()

    longer = verify_bundle(grown.directory, key.public_key().to_pem())
    unlisted = verify_bundle(extra.directory, key.public_key().to_pem())
    unsigned = verify_bundle(no_manifest.directory, key.public_key().to_pem())

    assert (longer.first_bad, "bytes; the manifest says" in longer.problems[0]) == ("metadata.jsonl", True)
    assert (unlisted.first_bad, unlisted.problems) == ("media.jsonl", [
        "media.jsonl: not listed in the manifest (nothing vouches for it)"])
    assert (unsigned.ok, unsigned.first_bad) == (False, MANIFEST)


def test_a_forged_signature_fails_at_the_signature(bundle, key):
    (bundle.directory / SIGNATURE).write_bytes(bytes(64))

    result = verify_bundle(bundle.directory, key.public_key().to_pem())

    assert (result.ok, result.first_bad) == (False, SIGNATURE)
    assert "does not verify" in result.problems[0]


def test_a_re_signed_manifest_fails_against_the_pinned_key_but_not_against_its_own_copy(bundle, key):
    # Mallory edits a file, fixes the manifest, signs it with her key and swaps the public key in.
    mallory = PrivateKey.generate(CURVE)
    path = bundle.directory / "content.jsonl"
    path.write_bytes(path.read_bytes().replace("Привет".encode(), "Пока!!".encode()))
    manifest = json.loads((bundle.directory / MANIFEST).read_bytes())
    entry = next(entry for entry in manifest["files"] if entry["name"] == "content.jsonl")
    entry["size"], entry["streebog256"] = path.stat().st_size, streebog256_hex(path.read_bytes())
    forged = (json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()
    (bundle.directory / MANIFEST).write_bytes(forged)
    (bundle.directory / SIGNATURE).write_bytes(mallory.sign(forged))
    (bundle.directory / PUBLIC_KEY).write_bytes(mallory.public_key().to_pem())

    pinned = verify_bundle(bundle.directory, key.public_key().to_pem())
    unpinned = verify_bundle(bundle.directory)

    assert (pinned.ok, pinned.first_bad) == (False, SIGNATURE)
    # Without a pinned key only the fingerprint gives Mallory away: it is not the node's.
    assert (unpinned.key_source, unpinned.first_bad) == ("bundle", MANIFEST)
    assert unpinned.key_fingerprint == mallory.public_key().fingerprint() != key.public_key().fingerprint()


def test_a_bundle_is_written_once_and_only_with_the_requested_categories(tmp_path, key):
    write_bundle(tmp_path, REQUEST, RECORDS, key=key, created_at=0)

    with pytest.raises(BundleError, match="exists already"):
        write_bundle(tmp_path, REQUEST, RECORDS, key=key, created_at=0)
    with pytest.raises(BundleError, match="the request asks for"):
        write_bundle(tmp_path / "x", REQUEST, {**RECORDS, "sessions": []}, key=key, created_at=0)


def test_unsafe_request_ids_never_name_a_directory(tmp_path, key):
    from dataclasses import replace

    for bad in ("../escape", ".hidden", "a/b", ""):
        with pytest.raises(BundleError, match="cannot name a bundle directory"):
            write_bundle(tmp_path, replace(REQUEST, id=bad), RECORDS, key=key, created_at=0)


def test_another_keys_public_key_does_not_verify_it(tmp_path, key):
    other = PrivateKey.generate(Curve.CRYPTOPRO_256_A)
    bundle = write_bundle(tmp_path, REQUEST, RECORDS, key=key, created_at=0)

    assert not verify_bundle(bundle.directory, other.public_key().to_pem()).ok
    assert verify_bundle(bundle.directory).ok  # its own copy of the (right) key


def test_jsonl_is_sorted_compact_utf8_one_object_per_line():
    assert jsonl([{"b": 1, "a": "ж"}, {"c": None}]) == '{"a":"ж","b":1}\n{"c":null}\n'.encode()
    with pytest.raises(ValueError):
        jsonl([{"a": float("nan")}])
