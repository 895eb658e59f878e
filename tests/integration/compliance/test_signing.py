"""GOST R 34.10-2012 keys and signatures through the real openssl and Debian's GOST engine."""

from __future__ import annotations

import os
import subprocess

import pytest

from svyaz.gost import GostUnavailable, streebog256
from svyaz.gost.signing import (
    PRIVATE_KEY_FILE,
    PUBLIC_KEY_FILE,
    SigningError,
    generate_keypair,
    load_keypair,
    load_or_generate_keypair,
    verify,
)

DATA = b'{"entry_hash":"..","seq":10}'


def test_a_signature_verifies_with_the_public_key(keypair):
    signature = keypair.sign(DATA)

    assert len(signature) == 64
    assert verify(DATA, signature, keypair.public_pem)


def test_a_tampered_signature_fails(keypair):
    signature = bytearray(keypair.sign(DATA))
    signature[10] ^= 0x01

    assert not verify(DATA, bytes(signature), keypair.public_pem)


def test_a_signature_over_other_data_or_by_another_key_fails(keypair, tmp_path):
    signature = keypair.sign(DATA)
    other = generate_keypair(tmp_path / "other")

    assert not verify(DATA + b" ", signature, keypair.public_pem)
    assert not verify(DATA, signature, other.public_pem)
    assert other.key_id != keypair.key_id


def test_the_private_key_is_only_readable_by_its_owner(keypair):
    directory = keypair.private_key_path.parent

    assert keypair.private_key_path.name == PRIVATE_KEY_FILE
    assert keypair.private_key_path.stat().st_mode & 0o777 == 0o600
    assert directory.stat().st_mode & 0o777 == 0o700
    assert b"PRIVATE" not in (directory / PUBLIC_KEY_FILE).read_bytes()
    assert [p.name for p in directory.iterdir() if p.name.startswith(".")] == []  # no temporaries left


def test_the_key_id_is_streebog256_of_the_public_key_der(keypair):
    der = subprocess.run(
        ["openssl", "pkey", "-engine", "gost", "-pubin", "-outform", "DER"],
        input=keypair.public_pem, capture_output=True, check=True,
    ).stdout

    assert keypair.key_id == streebog256(der).hex()[:16]


def test_a_key_is_made_once_and_then_loaded(keypair):
    directory = keypair.private_key_path.parent

    with pytest.raises(FileExistsError):
        generate_keypair(directory)
    assert load_keypair(directory) == keypair
    assert load_or_generate_keypair(directory) == keypair


def test_a_private_key_others_can_read_is_refused(keypair):
    os.chmod(keypair.private_key_path, 0o640)

    with pytest.raises(SigningError, match="readable by other users") as error:
        load_keypair(keypair.private_key_path.parent)
    assert error.value.hint == f"chmod 600 {keypair.private_key_path}"


def test_a_missing_key_says_how_to_make_one(tmp_path):
    with pytest.raises(SigningError, match="no signing key") as error:
        load_keypair(tmp_path)
    assert "svyaz audit keygen" in error.value.hint


def test_without_the_gost_engine_the_error_says_what_to_install(keypair, tmp_path, monkeypatch):
    # OpenSSL looks for engines only in this directory now: as if libengine-gost-openssl were absent.
    monkeypatch.setenv("OPENSSL_ENGINES", str(tmp_path))

    with pytest.raises(GostUnavailable, match="no `gost` engine") as error:
        keypair.sign(DATA)
    assert "apt-get install libengine-gost-openssl" in error.value.hint
    with pytest.raises(GostUnavailable):
        verify(DATA, b"\0" * 64, keypair.public_pem)
