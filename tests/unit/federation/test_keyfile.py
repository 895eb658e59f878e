"""The node's federation key files and `svyaz federation keygen`, with real GOST keys in tmp_path."""

from __future__ import annotations

import json
import os
import stat
import threading

import pytest

from svyaz.cli import build_parser, main
from svyaz.federation.envelope import Signer
from svyaz.federation.errors import FederationConfigError
from svyaz.federation.keyfile import (
    PRIVATE_KEY_FILE,
    PUBLIC_KEY_FILE,
    load_federation_key,
    load_or_generate_federation_key,
)
from svyaz.federation.trust import load_peer_keys
from svyaz.gost.keys import Curve, PrivateKey, PublicKey


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_key_is_made_once_then_loaded(tmp_path):
    directory = tmp_path / "data" / "federation"

    key = load_or_generate_federation_key(directory)

    assert key.curve is Curve.TC26_256_A
    assert _mode(directory) == 0o700
    assert _mode(directory / PRIVATE_KEY_FILE) == 0o600
    assert _mode(directory / PUBLIC_KEY_FILE) == 0o644
    public = PublicKey.from_pem((directory / PUBLIC_KEY_FILE).read_bytes())
    assert public == key.public_key()
    assert not [name for name in os.listdir(directory) if name.startswith(".")]  # no temporary left
    again = load_or_generate_federation_key(directory)
    assert again.to_bytes() == key.to_bytes()
    assert (directory / PUBLIC_KEY_FILE).read_bytes() == public.to_pem()


def test_what_the_key_signs_verifies_under_the_public_file_a_peer_pins(tmp_path):
    signer = Signer("ru", load_or_generate_federation_key(tmp_path))
    sealed = signer.seal(destination="kz", stream="dm/@a:ru/@b:kz", seq=1, kind="message.created", payload={})

    trust = load_peer_keys("kz", {"ru": [str(tmp_path / PUBLIC_KEY_FILE)]})

    assert trust.verify(sealed).id == sealed.id
    assert trust.key_ids("ru") == (signer.key_id,)


def test_processes_starting_at_once_end_up_with_one_key(tmp_path):
    found: list[bytes] = []
    threads = [threading.Thread(target=lambda: found.append(load_or_generate_federation_key(tmp_path).to_bytes()))
               for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(found) == 6 and len(set(found)) == 1


def test_a_lost_public_file_is_written_again_from_the_private_key(tmp_path):
    key = load_or_generate_federation_key(tmp_path)
    (tmp_path / PUBLIC_KEY_FILE).unlink()

    load_federation_key(tmp_path)

    assert PublicKey.from_pem((tmp_path / PUBLIC_KEY_FILE).read_bytes()) == key.public_key()


def test_a_public_file_without_its_private_key_is_not_silently_replaced(tmp_path):
    load_or_generate_federation_key(tmp_path)
    (tmp_path / PRIVATE_KEY_FILE).unlink()

    with pytest.raises(FederationConfigError, match="exists but .*node.key does not") as refused:
        load_or_generate_federation_key(tmp_path)
    assert "pin" in refused.value.hint
    assert not (tmp_path / PRIVATE_KEY_FILE).exists()


@pytest.mark.parametrize("content, message", [
    (b"not a key at all\n", "is not a GOST R 34.10-2012 private key: not a PEM private key"),
    ("public", "is not a GOST R 34.10-2012 private key: not a PEM private key"),
    ("cryptopro", "holds a CRYPTOPRO_256_A key; the federation key is 256-bit on TC26_256_A"),
    ("512", "holds a TC26_512_A key"),
    (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "is not a GOST R 34.10-2012 private key"),
    (b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n", "encrypted"),
])
def test_a_file_of_another_kind_is_refused_naming_the_path_and_never_its_content(tmp_path, content, message):
    if content == "public":
        content = PrivateKey.generate(Curve.TC26_256_A).public_key().to_pem()
    elif content == "cryptopro":
        content = PrivateKey.generate(Curve.CRYPTOPRO_256_A).to_pem()
    elif content == "512":
        content = PrivateKey.generate(Curve.TC26_512_A).to_pem()
    path = tmp_path / PRIVATE_KEY_FILE
    path.write_bytes(content)
    path.chmod(0o600)

    with pytest.raises(FederationConfigError) as refused:
        load_or_generate_federation_key(tmp_path)

    text = str(refused.value) + str(refused.value.hint)
    assert str(path) in text and message in text
    body = b"".join(line for line in content.splitlines() if not line.startswith(b"-----"))
    assert body[:20].decode() not in text
    assert path.read_bytes() == content  # never replaced
    assert not (tmp_path / PUBLIC_KEY_FILE).exists()


def test_a_key_others_may_read_is_refused(tmp_path):
    load_or_generate_federation_key(tmp_path)
    (tmp_path / PRIVATE_KEY_FILE).chmod(0o640)

    with pytest.raises(FederationConfigError, match="readable by other users") as refused:
        load_federation_key(tmp_path)
    assert refused.value.hint == f"chmod 600 {tmp_path / PRIVATE_KEY_FILE}"


def test_no_key_is_reported_with_the_command_that_makes_one(tmp_path):
    with pytest.raises(FederationConfigError, match="no federation key at") as refused:
        load_federation_key(tmp_path)
    assert "svyaz federation keygen" in refused.value.hint


def test_keygen_creates_then_keeps_the_key(tmp_path, capsys):
    directory = tmp_path / "federation"

    assert main(["federation", "keygen", "--dir", str(directory)]) == 0
    first = capsys.readouterr().out
    key = load_federation_key(directory)
    key_id = key.public_key().fingerprint()
    assert first.startswith(f"new federation key {key_id}\n")
    assert str(directory / PUBLIC_KEY_FILE) in first

    assert main(["federation", "keygen", "--dir", str(directory), "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second == {"key_id": key_id, "created": False, "private_key": str(directory / PRIVATE_KEY_FILE),
                      "public_key": str(directory / PUBLIC_KEY_FILE)}
    assert load_federation_key(directory).to_bytes() == key.to_bytes()


def test_keygen_reports_a_bad_key_file_without_a_traceback(tmp_path):
    (tmp_path / PRIVATE_KEY_FILE).write_bytes(b"garbage")
    (tmp_path / PRIVATE_KEY_FILE).chmod(0o600)
    args = build_parser().parse_args(["federation", "keygen", "--dir", str(tmp_path)])

    with pytest.raises(FederationConfigError, match="node.key is not a GOST R 34.10-2012 private key"):
        args.handler(args)
    assert main(["federation", "keygen", "--dir", str(tmp_path)]) == 1  # reported, no traceback
