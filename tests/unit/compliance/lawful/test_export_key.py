"""The node's lawful-export key on disk (svyaz/compliance/lawful/export_key.py)."""

from __future__ import annotations

import os
import stat

import pytest

from svyaz.compliance.lawful.export_key import (
    CURVE,
    PRIVATE_KEY_FILE,
    PUBLIC_KEY_FILE,
    ExportKeyError,
    key_dir,
    load_or_generate_export_key,
    read_public_key,
)
from svyaz.gost.keys import Curve, PrivateKey


def test_made_once_private_0600_in_a_0700_directory_and_loaded_after(tmp_path):
    directory = key_dir(tmp_path)

    made = load_or_generate_export_key(directory)
    loaded = load_or_generate_export_key(directory)

    assert directory == tmp_path / "lawful"
    assert made.to_bytes() == loaded.to_bytes() and made.curve is CURVE
    assert stat.S_IMODE(os.stat(directory / PRIVATE_KEY_FILE).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert read_public_key(directory) == made.public_key()
    assert (directory / PUBLIC_KEY_FILE).read_bytes() == made.public_key().to_pem()


def test_a_key_others_may_read_is_refused(tmp_path):
    load_or_generate_export_key(tmp_path)
    os.chmod(tmp_path / PRIVATE_KEY_FILE, 0o640)

    with pytest.raises(ExportKeyError, match="readable by other users") as refused:
        load_or_generate_export_key(tmp_path)
    assert refused.value.hint == f"chmod 600 {tmp_path / PRIVATE_KEY_FILE}"


def test_a_lost_private_key_is_not_silently_replaced(tmp_path):
    load_or_generate_export_key(tmp_path)
    (tmp_path / PRIVATE_KEY_FILE).unlink()

    with pytest.raises(ExportKeyError, match="lost or moved"):
        load_or_generate_export_key(tmp_path)


def test_a_key_of_another_kind_is_refused_without_quoting_it(tmp_path):
    (tmp_path / PRIVATE_KEY_FILE).write_bytes(PrivateKey.generate(Curve.CRYPTOPRO_256_A).to_pem())
    os.chmod(tmp_path / PRIVATE_KEY_FILE, 0o600)
    with pytest.raises(ExportKeyError, match="CRYPTOPRO_256_A"):
        load_or_generate_export_key(tmp_path)

    (tmp_path / PRIVATE_KEY_FILE).write_bytes(b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ExportKeyError) as garbage:
        load_or_generate_export_key(tmp_path)
    assert "c2VjcmV0" not in str(garbage.value)


def test_no_public_key_yet_says_how_it_comes(tmp_path):
    with pytest.raises(ExportKeyError, match="no lawful-export public key"):
        read_public_key(tmp_path)
