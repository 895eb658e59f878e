"""`[federation]`: its defaults, the peers table from a file and from a variable, and each bad value,
named with its key and where it came from. Peer PEMs are real GOST public keys in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from svyaz.federation.keyfile import PUBLIC_KEY_FILE
from svyaz.federation.ledger import MAX_AHEAD
from svyaz.gost.keys import Curve, PrivateKey
from svyaz.node.config import FederationConfig, Override, load_config
from svyaz.node.errors import ConfigError
from svyaz.node.federation.keys import federation_signer


@pytest.fixture(scope="module")
def peer_keys() -> dict[str, PrivateKey]:
    return {name: PrivateKey.generate(Curve.TC26_256_A) for name in ("kz", "kz-next", "by", "ru")}


@pytest.fixture
def pems(tmp_path, peer_keys) -> dict[str, Path]:
    paths = {}
    for name, key in peer_keys.items():
        paths[name] = tmp_path / f"{name}.pub.pem"
        paths[name].write_bytes(key.public_key().to_pem())
    return paths


def load(region: str = "ru", *, path: Path | None = None, environ: dict[str, str] | None = None,
         overrides: list[Override] | None = None):
    return load_config(region, path=path, environ=environ or {}, overrides=overrides or [])


def refused(**kwargs) -> ConfigError:
    with pytest.raises(ConfigError) as raised:
        load(**kwargs)
    return raised.value


def toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "node.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_off_by_default_with_the_key_beside_the_node_data():
    federation = load().federation

    assert federation.enabled is False
    assert federation.peers == {}
    assert federation.max_ahead == MAX_AHEAD == 1000
    assert federation.send_timeout_s == 5.0
    assert federation.key_dir == str(Path(load().node.data_dir) / "federation")
    assert federation.peer_keys is not None and federation.peer_keys.peers == frozenset()


def test_the_key_dir_follows_node_data_dir_unless_set(tmp_path):
    moved = load(environ={"SVYAZ_NODE__DATA_DIR": str(tmp_path / "data")})
    assert moved.federation.key_dir == str(tmp_path / "data" / "federation")
    chosen = load(environ={"SVYAZ_NODE__DATA_DIR": str(tmp_path / "data"),
                           "SVYAZ_FEDERATION__KEY_DIR": "/etc/svyaz/federation"})
    assert chosen.federation.key_dir == "/etc/svyaz/federation"


def test_peers_from_a_toml_table_paths_and_inline_pems(tmp_path, pems, peer_keys):
    inline = peer_keys["by"].public_key().to_pem().decode()
    path = toml(tmp_path, f"""
[federation]
enabled = true
max_ahead = 50
send_timeout_s = 0.5

[federation.peers]
kz = ["{pems['kz']}", "{pems['kz-next']}"]
by = '''{inline}'''
""")

    federation = load(path=path).federation

    assert federation.enabled is True
    assert (federation.max_ahead, federation.send_timeout_s) == (50, 0.5)
    assert federation.peers == {"kz": (str(pems["kz"]), str(pems["kz-next"])), "by": (inline,)}
    assert federation.peer_keys.peers == {"kz", "by"}
    assert federation.peer_keys.key_ids("kz") == (peer_keys["kz"].public_key().fingerprint(),
                                                  peer_keys["kz-next"].public_key().fingerprint())
    assert federation.peer_keys.local_region == "ru"


def test_peers_from_the_environment(pems, peer_keys):
    environ = {"SVYAZ_FEDERATION__ENABLED": "true",
               "SVYAZ_FEDERATION__PEERS": f"kz={pems['kz']},{pems['kz-next']};by={pems['by']};",
               "SVYAZ_FEDERATION__MAX_AHEAD": "10", "SVYAZ_FEDERATION__SEND_TIMEOUT_S": "2.5"}

    federation = load(environ=environ).federation

    assert federation.peers == {"kz": (str(pems["kz"]), str(pems["kz-next"])), "by": (str(pems["by"]),)}
    assert federation.peer_keys.key_ids("by") == (peer_keys["by"].public_key().fingerprint(),)
    assert (federation.max_ahead, federation.send_timeout_s) == (10, 2.5)


def test_an_inline_pem_in_the_environment(peer_keys):
    pem = peer_keys["kz"].public_key().to_pem().decode()  # base64 may end in '=': only the first one splits
    federation = load(environ={"SVYAZ_FEDERATION__PEERS": f"kz={pem}"}).federation
    assert federation.peer_keys.key_ids("kz") == (peer_keys["kz"].public_key().fingerprint(),)


def test_the_environment_overrides_the_file_table(tmp_path, pems):
    path = toml(tmp_path, f'[federation.peers]\nkz = ["{pems["kz"]}"]\n')
    federation = load(path=path, environ={"SVYAZ_FEDERATION__PEERS": f"by={pems['by']}"}).federation
    assert federation.peers == {"by": (str(pems["by"]),)}


def test_a_section_built_by_hand_has_the_loaders_defaults():
    by_hand, loaded = FederationConfig(), load().federation
    assert (by_hand.enabled, by_hand.peers, by_hand.max_ahead, by_hand.send_timeout_s) == (
        loaded.enabled, loaded.peers, loaded.max_ahead, loaded.send_timeout_s)
    assert by_hand.key_dir == "" and by_hand.peer_keys is None  # resolved and loaded by load_config only


# --- each bad value, named -------------------------------------------------------------------------


def test_enabled_without_a_peer():
    error = refused(environ={"SVYAZ_FEDERATION__ENABLED": "true"})
    assert str(error) == ("federation.peers: federation.enabled is true (from SVYAZ_FEDERATION__ENABLED) "
                          "but no peer is pinned")
    assert "[federation.peers]" in error.hint


def test_a_bad_entry_names_its_index_and_source(pems, tmp_path):
    missing = tmp_path / "absent.pem"
    error = refused(environ={"SVYAZ_FEDERATION__PEERS": f"kz={pems['kz']},{missing}"})
    assert str(error) == (f"federation.peers.kz[1]: cannot read {missing} (No such file or directory) "
                          "(from SVYAZ_FEDERATION__PEERS)")


def test_a_file_that_is_not_a_public_key_names_its_entry(tmp_path):
    path = toml(tmp_path, f'[federation.peers]\nby = ["{tmp_path / "node.toml"}"]\n')
    error = refused(path=path)
    assert str(error).startswith("federation.peers.by[0]: not a GOST R 34.10-2012 public key PEM")
    assert str(error).endswith(f"(from config file {path})")


def test_the_nodes_own_region_cannot_be_a_peer(pems):
    error = refused(environ={"SVYAZ_FEDERATION__PEERS": f"ru={pems['ru']}"})
    assert str(error) == "federation.peers.ru: a node does not pin its own region (from SVYAZ_FEDERATION__PEERS)"
    # ...while kz may pin ru
    assert load("kz", environ={"SVYAZ_FEDERATION__PEERS": f"ru={pems['ru']}"}).federation.peer_keys.peers == {"ru"}


def test_an_unknown_region(pems):
    error = refused(environ={"SVYAZ_FEDERATION__PEERS": f"xx={pems['kz']}"})
    assert str(error) == "federation.peers.xx: unknown region (from SVYAZ_FEDERATION__PEERS)"


def test_a_peers_key_pinned_twice(pems):
    error = refused(environ={"SVYAZ_FEDERATION__PEERS": f"kz={pems['kz']},{pems['kz']}"})
    assert "federation.peers.kz: key " in str(error) and "pinned twice" in str(error)


@pytest.mark.parametrize("value", ["kz", "=/a.pem", "kz=", "kz=/a.pem,,/b.pem", "kz=/a.pem;kz=/b.pem"])
def test_an_unreadable_environment_table(value):
    error = refused(environ={"SVYAZ_FEDERATION__PEERS": value})
    assert str(error).startswith("federation.peers: expected a table of region = [PEM paths or PEMs], or "
                                 "'region=PEM[,PEM...]' joined by ';'")
    assert str(error).endswith("(from SVYAZ_FEDERATION__PEERS)")


@pytest.mark.parametrize("text, message", [
    ("[federation]\npeers = 5\n", "federation.peers: expected a table of region"),
    ("[federation.peers]\nkz = []\n", "federation.peers.kz: expected a non-empty list"),
    ("[federation.peers]\nkz = 5\n", "federation.peers.kz: expected a non-empty list"),
    ("[federation.peers]\nkz = [5]\n", "federation.peers.kz[0]: expected a PEM path or a PEM, got int"),
    ("[federation]\nenabled = 1\n", "federation.enabled: expected true or false, got 1"),
    ("[federation]\nmax_ahead = 0\n", "federation.max_ahead: expected an integer 1-100000, got 0"),
    ("[federation]\nmax_ahead = true\n", "federation.max_ahead: expected an integer 1-100000, got True"),
    ("[federation]\nsend_timeout_s = 0\n", "federation.send_timeout_s: expected a positive number of seconds"),
    ("[federation]\nkey_dir = 7\n", "federation.key_dir: expected a file system path (empty for the default)"),
    ("[federation]\nkey_dir = ' /x'\n", "federation.key_dir: expected a file system path"),
    ("[federation]\npeer_keys = 1\n", "federation.peer_keys: unknown key"),
])
def test_each_bad_value_in_a_file_names_its_key_and_the_file(tmp_path, text, message):
    path = toml(tmp_path, text)
    error = refused(path=path)
    assert str(error).startswith(message)
    assert str(error).endswith(f"(from config file {path})")


@pytest.mark.parametrize("variable, value, message", [
    ("SVYAZ_FEDERATION__ENABLED", "yes", "federation.enabled: expected true or false, got 'yes'"),
    ("SVYAZ_FEDERATION__MAX_AHEAD", "100001", "federation.max_ahead: expected an integer 1-100000"),
    ("SVYAZ_FEDERATION__SEND_TIMEOUT_S", "-1", "federation.send_timeout_s: expected a positive number of seconds"),
    ("SVYAZ_FEDERATION__PEER", "kz=/a", "federation.peer: unknown key"),
])
def test_each_bad_value_in_the_environment_names_its_variable(variable, value, message):
    error = refused(environ={variable: value})
    assert str(error).startswith(message)
    assert str(error).endswith(f"(from {variable})")
    if "unknown key" in message:
        assert error.hint == ("known keys in [federation]: enabled, key_dir, peers, max_ahead, send_timeout_s, "
                                  "answer_wait_s")


def test_a_flag_override_is_checked_too():
    error = refused(overrides=[Override("federation.send_timeout_s", "soon", "--send-timeout")])
    assert str(error) == "federation.send_timeout_s: expected a positive number of seconds, got 'soon' (from --send-timeout)"


def test_the_node_signs_with_the_key_in_its_key_dir(tmp_path):
    config = load(environ={"SVYAZ_FEDERATION__KEY_DIR": str(tmp_path / "fk")})

    signer = federation_signer(config)

    assert signer.region == "ru"
    assert (tmp_path / "fk" / PUBLIC_KEY_FILE).exists()
    assert federation_signer(config).key_id == signer.key_id  # made once, loaded after
