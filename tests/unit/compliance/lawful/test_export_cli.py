"""`svyaz lawful verify` on bundles in a temporary directory: exit status, the first bad file named,
`--json`, encrypted bundles (svyaz/compliance/lawful/export_cli.py)."""

from __future__ import annotations

import json

import pytest

from svyaz.cli import main
from svyaz.compliance.lawful.bundle import write_bundle
from svyaz.compliance.lawful.encryption import encrypt_bundle
from svyaz.compliance.lawful.export_key import CURVE
from svyaz.compliance.lawful.model import LawfulRequest, LegalBasis
from svyaz.gost.keys import PrivateKey

BASIS = LegalBasis(kind="court_order", number="1", date="2026-02-01", issuer="court", document_hash="0" * 64)
REQUEST = LawfulRequest(id="lr-ru-00000000000000cc", region="ru", authority="@fsb:ru", subject="@s:ru",
                        categories=("metadata", "sessions"), since=0.0, until=1.0, deadline=2.0, basis=BASIS)


@pytest.fixture(scope="module")
def node_key() -> PrivateKey:
    return PrivateKey.generate(CURVE)


@pytest.fixture
def bundle(tmp_path, node_key):
    (tmp_path / "node").mkdir()
    written = write_bundle(tmp_path / "node", REQUEST, {"metadata": [{"seq": 1}], "sessions": [{"address": "10.0.0.1"}]},
                           key=node_key, created_at=0)
    pinned = tmp_path / "pinned.pem"
    pinned.write_bytes(node_key.public_key().to_pem())
    return written.directory, pinned


def test_a_good_bundle_verifies_with_the_pinned_key(bundle, capsys):
    directory, pinned = bundle

    status = main(["lawful", "verify", str(directory), "--key", str(pinned)])

    out = capsys.readouterr().out
    assert status == 0
    assert f"bundle {REQUEST.id}: verified" in out and "the key you gave" in out and "sessions.jsonl" in out


def test_a_changed_byte_fails_naming_the_file_and_json_says_so_too(bundle, capsys):
    directory, pinned = bundle
    path = directory / "sessions.jsonl"
    path.write_bytes(path.read_bytes().replace(b"10.0.0.1", b"10.0.0.2"))

    status = main(["lawful", "verify", str(directory), "--key", str(pinned)])
    err = capsys.readouterr().err
    json_status = main(["lawful", "verify", str(directory), "--key", str(pinned), "--json"])
    report = json.loads(capsys.readouterr().out)

    assert status == json_status == 1
    assert "FAILED at sessions.jsonl" in err
    assert (report["ok"], report["first_bad"]) == (False, "sessions.jsonl")


def test_without_a_pinned_key_it_says_to_compare_the_fingerprint(bundle, capsys, node_key):
    directory, _ = bundle

    assert main(["lawful", "verify", str(directory)]) == 0
    out = capsys.readouterr().out
    assert node_key.public_key().fingerprint() in out and "compare its fingerprint" in out


def test_an_encrypted_bundle_needs_the_recipients_key_and_then_verifies(bundle, tmp_path, capsys):
    directory, pinned = bundle
    authority = PrivateKey.generate(CURVE)
    sealed = encrypt_bundle(directory, authority.public_key(), tmp_path / f"{REQUEST.id}.svx")
    key_file = tmp_path / "authority.pem"
    key_file.write_bytes(authority.to_pem())

    without = main(["lawful", "verify", str(sealed), "--key", str(pinned)])
    hint = capsys.readouterr().err
    with_key = main(["lawful", "verify", str(sealed), "--key", str(pinned), "--decrypt-with", str(key_file),
                     "--out", str(tmp_path / "opened")])

    assert without == 1 and "--decrypt-with" in hint and authority.public_key().fingerprint() in hint
    assert with_key == 0 and (tmp_path / "opened" / REQUEST.id / "manifest.json").is_file()


def test_a_missing_bundle_fails_cleanly(tmp_path, capsys):
    assert main(["lawful", "verify", str(tmp_path / "nothing-here")]) == 1
    assert "not a bundle directory" in capsys.readouterr().err
