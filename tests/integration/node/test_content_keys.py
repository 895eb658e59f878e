"""The content key ring (svyaz/node/content_keys.py) on the real Kuznyechik AEAD: files and modes,
a rotation made by another process picked up without a restart, retire rules, no key bytes shown."""

from __future__ import annotations

import os
import stat

import pytest

from svyaz.messaging.at_rest import SealFailed
from svyaz.node.config import load_config
from svyaz.node.content_keys import ContentKeyError, ContentKeyRing, is_key_id, key_dir
from svyaz.node.messaging import content_at_rest

AD = b'["svyaz at-rest v1","message","dm/@a:ru/@b:ru#000000000001","content_sealed"]'


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_first_key_is_made_once_with_private_modes(tmp_path):
    directory = key_dir(tmp_path)
    first = ContentKeyRing.create_if_missing(directory)
    again = ContentKeyRing.create_if_missing(directory)
    [key] = first.list()
    assert again.current_key_id() == first.current_key_id() == key.key_id and is_key_id(key.key_id)
    assert mode(directory) == 0o700
    assert mode(directory / f"{key.key_id}.key") == 0o600 and mode(directory / "current") == 0o600
    assert (directory / f"{key.key_id}.key").stat().st_size == 32


def test_a_rotation_by_another_process_is_used_at_the_next_seal_and_old_content_still_opens(tmp_path):
    node = ContentKeyRing.create_if_missing(key_dir(tmp_path))
    operator = ContentKeyRing(key_dir(tmp_path))          # what `svyaz node content-key rotate` runs
    old_id, nonce, old = node.seal(b"before", AD)
    new_id = operator.rotate()
    sealed_id, _, new = node.seal(b"after", AD)
    assert (sealed_id, node.current_key_id()) == (new_id, new_id) and new_id != old_id
    assert node.open(old_id, nonce, old, AD) == b"before"
    # A process that loaded the ring before a rotation opens content sealed after it.
    later_id, later_nonce, later = operator.seal(b"later", AD)
    assert node.open(later_id, later_nonce, later, AD) == b"later"


def test_nonces_never_repeat_and_the_associated_data_binds(tmp_path):
    ring = ContentKeyRing.create_if_missing(key_dir(tmp_path))
    sealed = [ring.seal(b"same text", AD) for _ in range(50)]
    assert len({nonce for _, nonce, _ in sealed}) == 50 and len({c for _, _, c in sealed}) == 50
    key_id, nonce, ciphertext = sealed[0]
    with pytest.raises(SealFailed, match="does not authenticate"):
        ring.open(key_id, nonce, ciphertext, AD.replace(b"#000000000001", b"#000000000002"))


def test_retire_refuses_the_current_key_and_removes_an_old_one(tmp_path):
    ring = ContentKeyRing.create_if_missing(key_dir(tmp_path))
    old = ring.current_key_id()
    key_id, nonce, sealed = ring.seal(b"x", AD)
    with pytest.raises(ContentKeyError, match="is the current content key"):
        ring.retire(old)
    new = ring.rotate()
    ring.retire(old)
    assert [key.key_id for key in ring.list()] == [new]
    with pytest.raises(SealFailed, match=f"no content key '{old}'"):
        ring.open(key_id, nonce, sealed, AD)
    with pytest.raises(ContentKeyError, match="no content key"):
        ring.retire(old)


def test_a_key_file_others_can_read_is_refused_and_no_error_shows_key_bytes(tmp_path):
    ring = ContentKeyRing.create_if_missing(key_dir(tmp_path))
    path = ring.directory / f"{ring.current_key_id()}.key"
    secret = path.read_bytes()
    os.chmod(path, 0o644)
    with pytest.raises(SealFailed) as unsafe:
        ContentKeyRing(ring.directory).seal(b"x", AD)
    assert "readable by others" in str(unsafe.value)
    for shown in (str(unsafe.value), repr(ring)):
        assert secret.hex() not in shown and repr(secret) not in shown
    with pytest.raises(ContentKeyError, match="readable by others"):
        ContentKeyRing.existing(ring.directory)


def test_the_node_makes_its_ring_when_encrypting_and_reads_an_existing_one_when_not(tmp_path):
    def config(encrypt: str):
        return load_config("ru", environ={"SVYAZ_NODE__DATA_DIR": str(tmp_path),
                                          "SVYAZ_STORE__ENCRYPT_CONTENT": encrypt})

    assert content_at_rest(config("false")).sealer is None     # no ring, none made
    assert not key_dir(tmp_path).exists()
    on = content_at_rest(config("true"))
    assert on.seal_new and on.current_key() is not None and key_dir(tmp_path).is_dir()
    off = content_at_rest(config("false"))
    assert not off.seal_new and off.current_key() == on.current_key()
