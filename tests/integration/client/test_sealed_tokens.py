"""The headless fallback: tokens sealed with Kuznyechik-CTR (OpenSSL GOST engine) + HMAC-Streebog."""

import pytest

from svyaz.client.accounts import SealedFileSecrets
from svyaz.client.sealed_file import SealedFileError, seal, unseal


def test_sealed_secrets_round_trip_and_the_file_holds_no_plaintext(tmp_path):
    secrets = SealedFileSecrets(tmp_path / "tokens.sealed", "correct horse battery")
    secrets.set("@alice:ru", "refresh-token-value")

    assert SealedFileSecrets(tmp_path / "tokens.sealed", "correct horse battery").get("@alice:ru") == "refresh-token-value"
    assert b"refresh-token-value" not in (tmp_path / "tokens.sealed").read_bytes()
    assert (tmp_path / "tokens.sealed").stat().st_mode & 0o077 == 0


def test_a_wrong_passphrase_or_a_changed_byte_decrypts_nothing():
    sealed = bytearray(seal(b"tokens", "passphrase one"))

    with pytest.raises(SealedFileError, match="wrong passphrase"):
        unseal(bytes(sealed), "passphrase two")
    sealed[-40] ^= 0x01
    with pytest.raises(SealedFileError):
        unseal(bytes(sealed), "passphrase one")


def test_each_seal_uses_a_fresh_iv():
    assert seal(b"same", "p")[4:28] != seal(b"same", "p")[4:28]
