"""GOST R 34.10-2012 keys and signatures through the real openssl and Debian's GOST engine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from svyaz.gost import streebog256
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


def test_without_the_gost_engine_the_error_says_what_to_install(keypair, tmp_path):
    # OpenSSL looks for engines only in this directory now: as if libengine-gost-openssl were absent.
    # The engine is loaded once per process, so a fresh process has to be the one that lacks it.
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from svyaz.gost import GostUnavailable\n"
        "from svyaz.gost.signing import load_keypair, verify\n"
        "for attempt in (lambda: load_keypair(Path(sys.argv[1])), lambda: verify(b'x', bytes(64), sys.argv[2].encode())):\n"
        "    try:\n"
        "        attempt()\n"
        "    except GostUnavailable as error:\n"
        "        print(type(error).__name__, '|', error, '|', error.hint)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(keypair.private_key_path.parent), keypair.public_pem.decode()],
        capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[3],
        env={**os.environ, "OPENSSL_ENGINES": str(tmp_path)},
    )

    lines = result.stdout.splitlines()
    assert len(lines) == 2, result.stdout + result.stderr
    for line in lines:
        assert "no `gost` engine" in line
        assert "apt-get install libengine-gost-openssl" in line.split("|")[2]


def test_a_key_made_by_openssl_loads_and_its_files_stay_as_openssl_writes_them(tmp_path):
    directory = tmp_path / "audit"
    directory.mkdir(mode=0o700)
    made = subprocess.run(
        ["openssl", "genpkey", "-engine", "gost", "-algorithm", "gost2012_256", "-pkeyopt", "paramset:A",
         "-out", str(directory / PRIVATE_KEY_FILE)],
        capture_output=True, check=True,
    )
    assert made.returncode == 0
    os.chmod(directory / PRIVATE_KEY_FILE, 0o600)
    public_pem = subprocess.run(
        ["openssl", "pkey", "-engine", "gost", "-in", str(directory / PRIVATE_KEY_FILE), "-pubout"],
        capture_output=True, check=True,
    ).stdout

    keypair = load_keypair(directory)

    assert keypair.public_pem == public_pem == (directory / PUBLIC_KEY_FILE).read_bytes()
    assert verify(DATA, keypair.sign(DATA), public_pem)


def test_our_key_file_is_what_openssl_genpkey_writes(keypair):
    parsed = subprocess.run(
        ["openssl", "asn1parse", "-in", str(keypair.private_key_path)], capture_output=True, text=True, check=True,
    ).stdout

    assert "GOST R 34.10-2012 with 256 bit modulus" in parsed
    assert "id-GostR3410-2001-CryptoPro-A-ParamSet" in parsed  # `-pkeyopt paramset:A`
    assert keypair.private_key_path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----\n")
