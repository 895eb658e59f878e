"""Configuration layering (defaults ← file ← environment ← flags) and the errors for every bad value."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from svyaz.errors import SvyazError
from svyaz.node.config import NodeConfig, Override, load_config
from svyaz.node.errors import ConfigError, NodeError
from svyaz.regions import KNOWN_REGIONS, PORTS


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "node.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load(
    region: str = "ru",
    *,
    path: Path | None = None,
    environ: dict[str, str] | None = None,
    overrides: list[Override] | None = None,
) -> NodeConfig:
    return load_config(region, path=path, environ=environ or {}, overrides=overrides or [])


def config_error(**kwargs) -> str:
    with pytest.raises(ConfigError) as raised:
        load(**kwargs)
    return str(raised.value)


# --- defaults ----------------------------------------------------------------------------------


@pytest.mark.parametrize("region", KNOWN_REGIONS)
def test_defaults_follow_the_region_ports(region):
    config = load(region)
    ports = PORTS[region]
    assert config.region == region
    assert config.gateway.port == ports.gateway
    assert config.http.port == ports.http
    assert config.store.url == f"mongodb://127.0.0.1:{ports.ferretdb}/"
    assert config.store.database_prefix == f"svyaz_{region}"
    assert config.kafka.bootstrap_servers == f"127.0.0.1:{ports.kafka}"
    assert config.node.id.startswith(f"{region}-")


def test_defaults_are_sane_for_a_development_machine():
    config = load()
    assert config.gateway.host == config.http.host == "127.0.0.1"
    assert config.log.level == "INFO" and config.log.format == "json"
    # The drivers give up before the probe does, so the probe reports their reason.
    assert config.store.timeout_s < config.health.probe_timeout_s
    assert config.kafka.timeout_s < config.health.probe_timeout_s


def test_the_lawful_sweep_runs_every_five_minutes_unless_told_otherwise(tmp_path):
    assert load().lawful.expiry_sweep_interval_s == 300.0
    path = write_toml(tmp_path, "[lawful]\nexpiry_sweep_interval_s = 60\n")
    assert load(path=path).lawful.expiry_sweep_interval_s == 60.0


def test_config_sections_are_frozen():
    config = load()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.http.port = 1  # type: ignore[misc]


# --- layering ------------------------------------------------------------------------------------


def test_file_overrides_defaults(tmp_path):
    path = write_toml(
        tmp_path,
        """
[node]
id = "ru-1"
shutdown_grace_s = 3

[gateway]
port = 8201
max_frame_bytes = 1024

[store]
url = "mongodb://db.internal:27017/"
timeout_s = 0.5

[log]
level = "debug"
format = "text"
""",
    )
    config = load(path=path)
    assert config.node.id == "ru-1"
    assert config.node.shutdown_grace_s == 3.0
    assert config.gateway.port == 8201
    assert config.gateway.max_frame_bytes == 1024
    assert config.store.url == "mongodb://db.internal:27017/"
    assert config.store.timeout_s == 0.5
    assert config.log.level == "DEBUG"
    assert config.log.format == "text"
    assert config.http.port == PORTS["ru"].http  # untouched keys keep their defaults


def test_environment_overrides_file(tmp_path):
    path = write_toml(tmp_path, "[http]\nport = 9000\n[store]\nurl = 'mongodb://file:1/'\n")
    environ = {"SVYAZ_HTTP__PORT": "9001", "SVYAZ_STORE__URL": "mongodb://env:2/"}
    config = load(path=path, environ=environ)
    assert config.http.port == 9001
    assert config.store.url == "mongodb://env:2/"


def test_flags_override_environment():
    config = load(
        environ={"SVYAZ_HTTP__PORT": "9001", "SVYAZ_KAFKA__BOOTSTRAP_SERVERS": "env:9092"},
        overrides=[
            Override("http.port", "0", "--http-port"),
            Override("kafka.bootstrap_servers", "a:1,b:2", "--kafka"),
        ],
    )
    assert config.http.port == 0
    assert config.kafka.bootstrap_servers == "a:1,b:2"


def test_environment_values_are_parsed_from_text():
    config = load(
        environ={
            "SVYAZ_HEALTH__PROBE_INTERVAL_S": "0.2",
            "SVYAZ_GATEWAY__MAX_CONNECTIONS": "5",
            "SVYAZ_LOG__FORMAT": "TEXT",
            "SVYAZ_KAFKA__TOPIC_PREFIX": "",
        }
    )
    assert config.health.probe_interval_s == 0.2
    assert config.gateway.max_connections == 5
    assert config.log.format == "text"
    assert config.kafka.topic_prefix == ""


def test_environment_variable_names_are_case_insensitive_after_the_prefix():
    assert load(environ={"SVYAZ_http__port": "9005"}).http.port == 9005


def test_other_tools_variables_are_ignored():
    config = load(environ={"SVYAZ_STATE_DIR": "/tmp/x", "SVYAZ_STACK__REGIONS": "ru", "PATH": "/bin"})
    assert config == load()  # node id included: same process, same default


def test_port_zero_is_allowed_for_tests():
    config = load(
        overrides=[Override("gateway.port", 0, "--gateway-port"), Override("http.port", "0", "--http-port")]
    )
    assert (config.gateway.port, config.http.port) == (0, 0)


# --- errors name the key, the value and its source ------------------------------------------------


def test_config_error_is_a_node_error_and_a_svyaz_error():
    assert issubclass(ConfigError, NodeError)
    assert issubclass(ConfigError, SvyazError)


def test_bad_port_from_environment_names_key_value_and_variable():
    message = config_error(environ={"SVYAZ_HTTP__PORT": "abc"})
    assert message == "http.port: expected an integer 0-65535, got 'abc' (from SVYAZ_HTTP__PORT)"


@pytest.mark.parametrize("value", ["65536", "-1", "80.5", "", " "])
def test_port_out_of_range_or_not_an_integer(value):
    assert config_error(environ={"SVYAZ_GATEWAY__PORT": value}).startswith(
        "gateway.port: expected an integer 0-65535"
    )


def test_bad_port_from_flag_names_the_flag():
    message = config_error(overrides=[Override("gateway.port", "70000", "--gateway-port")])
    assert message == "gateway.port: expected an integer 0-65535, got '70000' (from --gateway-port)"


def test_wrong_type_in_file_names_the_file(tmp_path):
    path = write_toml(tmp_path, '[http]\nport = "9101"\n')
    # A TOML string is accepted like an environment value: the text is a valid port.
    assert load(path=path).http.port == 9101
    path = write_toml(tmp_path, "[http]\nport = true\n")
    message = config_error(path=path)
    assert message == f"http.port: expected an integer 0-65535, got True (from config file {path})"


def test_string_setting_rejects_a_number(tmp_path):
    path = write_toml(tmp_path, "[store]\nurl = 27017\n")
    assert config_error(path=path).startswith(
        "store.url: expected a mongodb:// or mongodb+srv:// URL, got 27017"
    )


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (
            "SVYAZ_HEALTH__PROBE_INTERVAL_S",
            "0",
            "health.probe_interval_s: expected a positive number of seconds",
        ),
        (
            "SVYAZ_HEALTH__PROBE_TIMEOUT_S",
            "-1",
            "health.probe_timeout_s: expected a positive number of seconds",
        ),
        (
            "SVYAZ_NODE__SHUTDOWN_GRACE_S",
            "nan",
            "node.shutdown_grace_s: expected a positive number of seconds",
        ),
        ("SVYAZ_STORE__TIMEOUT_S", "inf", "store.timeout_s: expected a positive number of seconds"),
        ("SVYAZ_GATEWAY__MAX_FRAME_BYTES", "0", "gateway.max_frame_bytes: expected a positive integer"),
        ("SVYAZ_STORE__MAX_THREADS", "many", "store.max_threads: expected a positive integer"),
        ("SVYAZ_LOG__LEVEL", "loud", "log.level: expected one of DEBUG, INFO, WARNING, ERROR"),
        ("SVYAZ_LOG__FORMAT", "xml", "log.format: expected one of json, text"),
        ("SVYAZ_KAFKA__BOOTSTRAP_SERVERS", "localhost", "kafka.bootstrap_servers: expected host:port"),
        ("SVYAZ_KAFKA__BOOTSTRAP_SERVERS", "a:1,,b:2", "kafka.bootstrap_servers: expected host:port"),
        ("SVYAZ_KAFKA__TOPIC_PREFIX", "has space", "kafka.topic_prefix: expected up to 100 letters"),
        ("SVYAZ_STORE__DATABASE_PREFIX", "svyaz.ru", "store.database_prefix: expected 1-40 letters"),
        ("SVYAZ_STORE__URL", "postgres://x/", "store.url: expected a mongodb:// or mongodb+srv:// URL"),
        ("SVYAZ_NODE__ID", "ru node", "node.id: expected 1-64 letters"),
        ("SVYAZ_GATEWAY__HOST", "", "gateway.host: expected a host name or IP address"),
        (
            "SVYAZ_LAWFUL__EXPIRY_SWEEP_INTERVAL_S",
            "0",
            "lawful.expiry_sweep_interval_s: expected a positive number of seconds",
        ),
    ],
)
def test_each_bad_value_names_its_key(variable, value, expected):
    message = config_error(environ={variable: value})
    assert message.startswith(expected)
    assert message.endswith(f"(from {variable})")


def test_credentials_in_a_rejected_url_are_not_echoed():
    message = config_error(environ={"SVYAZ_STORE__URL": "postgres://admin:hunter2@db/"})
    assert "hunter2" not in message and "admin" not in message
    assert "postgres://***@db/" in message


def test_unknown_key_in_file_names_section_key_and_file(tmp_path):
    path = write_toml(tmp_path, "[http]\nprot = 1\n")
    with pytest.raises(ConfigError) as raised:
        load(path=path)
    assert str(raised.value) == f"http.prot: unknown key (from config file {path})"
    assert "port" in raised.value.hint and "request_timeout_s" in raised.value.hint


def test_unknown_section_in_file(tmp_path):
    path = write_toml(tmp_path, "[htpp]\nport = 1\n")
    with pytest.raises(ConfigError) as raised:
        load(path=path)
    assert str(raised.value) == f"htpp: unknown section (from config file {path})"
    assert "gateway" in raised.value.hint


def test_top_level_value_in_file_is_an_unknown_section(tmp_path):
    # The region comes from --region only; a file cannot move a node to another country.
    path = write_toml(tmp_path, 'region = "by"\n')
    assert config_error(path=path).startswith("region: unknown section")


def test_section_that_is_not_a_table(tmp_path):
    path = write_toml(tmp_path, "http = 9101\n")
    assert config_error(path=path) == f"http: expected a table [http], got 9101 (from config file {path})"


def test_unknown_key_for_a_node_section_in_environment():
    assert config_error(environ={"SVYAZ_HTTP__PROT": "1"}) == "http.prot: unknown key (from SVYAZ_HTTP__PROT)"


def test_unknown_region():
    with pytest.raises(ConfigError) as raised:
        load("xx")
    assert str(raised.value) == "region: unknown region 'xx'"
    assert "ru" in raised.value.hint


def test_unparseable_toml_names_the_file(tmp_path):
    path = write_toml(tmp_path, "[http\nport = 1\n")
    message = config_error(path=path)
    assert message.startswith(f"config file {path}: not valid TOML")


def test_missing_file(tmp_path):
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigError) as raised:
        load(path=path)
    assert str(raised.value) == f"config file {path}: not found"
    assert "--config" in raised.value.hint


def test_unreadable_path(tmp_path):
    # A directory where a file is expected: the OS error is reported, not a traceback.
    assert config_error(path=tmp_path).startswith(f"config file {tmp_path}: cannot be read")
