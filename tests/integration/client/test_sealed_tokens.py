"""The headless fallback: tokens sealed with Kuznyechik-CTR + HMAC-Streebog (in-process OpenSSL)."""

import hmac

import pytest

from svyaz.client.accounts import SealedFileSecrets
from svyaz.client.sealed_file import KDF_ITERATIONS, SealedFileError, _keys, seal, unseal
from svyaz.gost.cipher import kuznyechik_ctr


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


def test_each_seal_uses_a_fresh_salt_and_iv():
    assert seal(b"same", "p")[8:32] != seal(b"same", "p")[8:32]


def test_the_work_factor_is_recorded_and_a_file_from_before_it_still_opens(tmp_path):
    light = SealedFileSecrets(tmp_path / "light.sealed", "pass", iterations=2000)
    light.set("@alice:ru", "token")
    assert (tmp_path / "light.sealed").read_bytes()[4:8] == (2000).to_bytes(4, "big")
    assert SealedFileSecrets(tmp_path / "light.sealed", "pass").get("@alice:ru") == "token"
    with pytest.raises(SealedFileError, match="at least"):
        seal(b"x", "pass", iterations=10)

    # An SVZ1 file, as clients wrote them before the work factor was recorded (100,000 iterations).
    salt, iv = bytes(range(16)), bytes(8)
    cipher_key, mac_key = _keys("pass", salt, KDF_ITERATIONS)
    body = b"SVZ1" + salt + iv + kuznyechik_ctr(cipher_key, iv, b'{"@bob:ru": "old"}')
    (tmp_path / "old.sealed").write_bytes(body + hmac.new(mac_key, body, "md_gost12_256").digest())
    old = SealedFileSecrets(tmp_path / "old.sealed", "pass")
    assert old.get("@bob:ru") == "old"
    old.set("@bob:ru", "rewritten")  # rewritten in the current layout, and still opens
    assert (tmp_path / "old.sealed").read_bytes()[:4] == b"SVZ2" and old.get("@bob:ru") == "rewritten"


def test_a_rewrite_keeps_the_files_salt_but_never_its_iv(tmp_path):
    path = tmp_path / "tokens.sealed"
    secrets = SealedFileSecrets(path, "correct horse battery")
    secrets.set("@alice:ru", "first")
    before = path.read_bytes()
    secrets.set("@alice:ru", "second")
    after = path.read_bytes()

    assert after[:24] == before[:24]        # work factor and salt: one derivation serves every rewrite
    assert after[24:32] != before[24:32]    # the IV: fresh on every write
    assert SealedFileSecrets(path, "correct horse battery").get("@alice:ru") == "second"
