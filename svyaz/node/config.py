"""The node's configuration: one frozen dataclass per section, checked once at start-up.

Layers, later ones winning: defaults for the region ← TOML file ← environment variables
`SVYAZ_<SECTION>__<KEY>` ← command-line flags. Every value goes through its section field's parser;
a bad one raises ConfigError naming the key, the value and the layer it came from, e.g.
`http.port: expected an integer 0-65535, got 'abc' (from SVYAZ_HTTP__PORT)`.
"""

from __future__ import annotations

import math
import os
import re
import socket
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from svyaz.federation.errors import FederationConfigError
from svyaz.federation.ledger import MAX_AHEAD
from svyaz.federation.trust import PeerKeys, load_peer_keys
from svyaz.node.errors import ConfigError
from svyaz.node.redact import redact_secrets
from svyaz.regions import KNOWN_REGIONS, PORTS, default_state_dir

ENV_PREFIX = "SVYAZ_"
# The repository's policies/ (a source checkout); operators point rbac.policy_dir elsewhere.
DEFAULT_POLICY_DIR = Path(__file__).resolve().parents[2] / "policies"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("json", "text")

Parser = Callable[[object], Any]


class _Invalid(Exception):
    """Raised by a parser with what it expected; the loader adds the key, value and source."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


def _setting(parse: Parser, **default: Any) -> Any:
    """A dataclass field that knows how to parse and check its raw value. A `default=` is for
    sections built by hand (tests, tools); the loader always passes every value."""
    return field(metadata={"parse": parse}, **default)


def _to_int(value: object) -> int | None:
    # bool is an int subclass: `port = true` in TOML must not pass as 1.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    return None


def _to_float(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _integer(expected: str, low: int, high: int) -> Parser:
    def parse(value: object) -> int:
        number = _to_int(value)
        if number is None or not low <= number <= high:
            raise _Invalid(expected)
        return number

    return parse


def _seconds(value: object) -> float:
    number = _to_float(value)
    if number is None or not math.isfinite(number) or number <= 0:
        raise _Invalid("a positive number of seconds")
    return number


def _rate(value: object) -> float:
    number = _to_float(value)
    if number is None or not math.isfinite(number) or number <= 0:
        raise _Invalid("a positive number per second")
    return number


def _boolean(value: object) -> bool:
    # TOML gives a bool; variables and flags give text. 1/0 are not accepted: `true` says what it means.
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _Invalid("true or false")


def _text(expected: str, pattern: str) -> Parser:
    compiled = re.compile(pattern)

    def parse(value: object) -> str:
        if not isinstance(value, str) or not compiled.fullmatch(value):
            raise _Invalid(expected)
        return value

    return parse


def _choice(choices: Sequence[str], *, fold: Callable[[str], str]) -> Parser:
    def parse(value: object) -> str:
        if not isinstance(value, str) or fold(value) not in choices:
            raise _Invalid("one of " + ", ".join(choices))
        return fold(value)

    return parse


_PORT = _integer("an integer 0-65535", 0, 65535)
_COUNT = _integer("a positive integer", 1, 2**31 - 1)
_HOST = _text("a host name or IP address", r"[^\s/]+")
_MONGO_URL = _text("a mongodb:// or mongodb+srv:// URL", r"mongodb(\+srv)?://\S+")
_BOOTSTRAP = _text("host:port[,host:port...]", r"[^\s,]+:\d+(,[^\s,]+:\d+)*")
_NODE_ID = _text("1-64 letters, digits, '.', '_' or '-'", r"[A-Za-z0-9._-]{1,64}")
# Bulkhead suffixes such as `_private` are appended to it, and FerretDB allows 63 characters in all.
_DATABASE_PREFIX = _text("1-40 letters, digits or '_'", r"[A-Za-z0-9_]{1,40}")
_TOPIC_PREFIX = _text("up to 100 letters, digits, '.', '_' or '-'", r"[A-Za-z0-9._-]{0,100}")
_ADDRESS_LIST = _text("comma-separated IP addresses (or empty)", r"([0-9A-Fa-f.:]+(,[0-9A-Fa-f.:]+)*)?")
_PATH = _text("a file system path", r"\S(.*\S)?")
_LOG_LEVEL = _choice(LOG_LEVELS, fold=str.upper)
_LOG_FORMAT = _choice(LOG_FORMATS, fold=str.lower)
_PEERS_EXPECTED = ("a table of region = [PEM paths or PEMs], or 'region=PEM[,PEM...]' joined by ';' "
                   "such as 'kz=/a.pem,/b.pem;by=/c.pem'")


def _optional_path(value: object) -> str:
    # Empty: the default, which depends on another key (federation.key_dir on node.data_dir).
    if value == "":
        return ""
    if not isinstance(value, str) or not re.fullmatch(r"\S(.*\S)?", value):
        raise _Invalid("a file system path (empty for the default)")
    return value


def _peer_table(value: object) -> Mapping[str, tuple[str, ...]]:
    """region -> PEM paths or inline PEMs, from a TOML table or the one-line form of a variable.
    The entries themselves are checked by `load_peer_keys`, which names the bad one."""
    table: dict[str, Any] = {}
    if isinstance(value, str):
        for part in value.split(";"):
            if not part.strip():
                continue
            region, sep, entries = part.partition("=")
            region = region.strip()
            listed = tuple(entry.strip() for entry in entries.split(","))
            if not sep or not region or region in table or not all(listed):
                raise _Invalid(_PEERS_EXPECTED)
            table[region] = listed
    elif isinstance(value, Mapping):
        for region, entries in value.items():
            if not isinstance(region, str):
                raise _Invalid(_PEERS_EXPECTED)
            # A lone string is one entry; anything else but a list goes to load_peer_keys as it is,
            # which names it (`federation.peers.kz: expected a non-empty list ...`).
            table[region] = (entries,) if isinstance(entries, str) else (
                tuple(entries) if isinstance(entries, list) else entries)
    else:
        raise _Invalid(_PEERS_EXPECTED)
    return MappingProxyType(table)


@dataclass(frozen=True)
class NodeSection:
    id: str = _setting(_NODE_ID)
    shutdown_grace_s: float = _setting(_seconds)
    data_dir: str = _setting(_PATH)


@dataclass(frozen=True)
class IdentityConfigSection:
    access_lifetime_s: int = _setting(_integer("an integer 5-3600", 5, 3600))
    password_iterations: int = _setting(_integer("an integer 1000-10000000", 1000, 10_000_000))
    # Every authenticated connection re-checks its session this often: the bound on how long a
    # revoked session's WebSocket stays open.
    session_check_interval_s: float = _setting(_seconds)
    # How long before the access token expires the gateway asks the client for a fresh one.
    reauth_lead_s: float = _setting(_seconds)


@dataclass(frozen=True)
class AuditConfig:
    checkpoint_every_entries: int = _setting(_COUNT)
    checkpoint_every_s: float = _setting(_seconds)


@dataclass(frozen=True)
class MessagingConfig:
    # Per account and node process: a steady rate of sends (messages and forwards) and the burst
    # allowed on top of it. Beyond them a send is refused with `rate_limited` and a retry delay.
    send_rate_per_s: float = _setting(_rate)
    send_burst: int = _setting(_COUNT)
    # Groups up to this many members get a push per offline member's device; larger groups and
    # channels one push per message to the chat's topic (the push service fans it out).
    group_push_limit: int = _setting(_COUNT)


@dataclass(frozen=True)
class RbacConfig:
    policy_dir: str = _setting(_PATH)
    reload_interval_s: float = _setting(_seconds)


@dataclass(frozen=True)
class GatewayConfig:
    host: str = _setting(_HOST)
    port: int = _setting(_PORT)
    max_frame_bytes: int = _setting(_COUNT)
    max_connections: int = _setting(_COUNT)
    # Live events queued per connection before the gateway gives up on it (close 4003).
    outbox_size: int = _setting(_COUNT)
    handshake_timeout_s: float = _setting(_seconds)
    # Addresses of the load balancers in front of the gateway: only for connections from these is
    # X-Forwarded-For believed, so throttling and the audit log see the client's real address.
    trusted_proxies: str = _setting(_ADDRESS_LIST)


@dataclass(frozen=True)
class HttpConfig:
    host: str = _setting(_HOST)
    port: int = _setting(_PORT)
    request_timeout_s: float = _setting(_seconds)


@dataclass(frozen=True)
class StoreConfig:
    url: str = _setting(_MONGO_URL)
    database_prefix: str = _setting(_DATABASE_PREFIX)
    timeout_s: float = _setting(_seconds)
    max_threads: int = _setting(_COUNT)
    # Seal message text and links, chat-list previews and report copies with the node's content
    # key (<node.data_dir>/content-keys/, docs/node.md). Off: new content is stored in clear, and
    # what was sealed before stays readable while the key ring is there.
    encrypt_content: bool = _setting(_boolean, default=True)


@dataclass(frozen=True)
class KafkaConfig:
    bootstrap_servers: str = _setting(_BOOTSTRAP)
    topic_prefix: str = _setting(_TOPIC_PREFIX)
    timeout_s: float = _setting(_seconds)


@dataclass(frozen=True)
class HealthConfig:
    probe_interval_s: float = _setting(_seconds)
    probe_timeout_s: float = _setting(_seconds)


@dataclass(frozen=True)
class FederationConfig:
    """`[federation]` (docs/federation.md). `peers` is the table as configured (region -> PEM paths
    or inline PEMs); `peer_keys` the keys loaded from it when the configuration was checked."""

    enabled: bool = _setting(_boolean, default=False)
    # The node's own signing key (node.key, node.pub.pem); load_config resolves the empty default
    # to <node.data_dir>/federation.
    key_dir: str = _setting(_optional_path, default="")
    peers: Mapping[str, tuple[str, ...]] = _setting(_peer_table, default_factory=lambda: MappingProxyType({}))
    # How far ahead of a stream's last applied event the inbound ledger holds events.
    max_ahead: int = _setting(_integer("an integer 1-100000", 1, 100_000), default=MAX_AHEAD)
    # How long the outbox waits for Kafka to acknowledge a record before reporting it unsent.
    send_timeout_s: float = _setting(_seconds, default=5.0)
    # How long a call waits for another region's node to answer (a change to a group or channel
    # homed there, a directory lookup) before answering `not_confirmed`.
    answer_wait_s: float = _setting(_seconds, default=10.0)
    peer_keys: PeerKeys | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class RetentionConfig:
    """`[retention]`: the scheduled purge of policies/retention.toml (docs/compliance.md)."""

    enabled: bool = _setting(_boolean, default=True)
    # Runs start at multiples of this since the epoch (daily: 00:00 UTC), one process of the node each.
    purge_interval_s: float = _setting(_seconds, default=86_400.0)


@dataclass(frozen=True)
class LawfulConfig:
    """`[lawful]`: the node's sweep of lawful-access requests (docs/compliance.md)."""

    # How often each process stores the expiry of overdue requests and takes the bundles of closed
    # or expired ones off the shelf (a read or a step expires an overdue request at once anyway).
    expiry_sweep_interval_s: float = _setting(_seconds, default=300.0)


@dataclass(frozen=True)
class LogConfig:
    level: str = _setting(_LOG_LEVEL)
    format: str = _setting(_LOG_FORMAT)


@dataclass(frozen=True)
class NodeConfig:
    region: str
    node: NodeSection
    gateway: GatewayConfig
    http: HttpConfig
    store: StoreConfig
    kafka: KafkaConfig
    health: HealthConfig
    log: LogConfig
    identity: IdentityConfigSection
    audit: AuditConfig
    rbac: RbacConfig
    messaging: MessagingConfig
    federation: FederationConfig = field(default_factory=FederationConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    lawful: LawfulConfig = field(default_factory=LawfulConfig)

    @property
    def data_path(self) -> Path:
        return Path(self.node.data_dir)


SECTIONS: dict[str, type] = {
    "node": NodeSection,
    "gateway": GatewayConfig,
    "http": HttpConfig,
    "store": StoreConfig,
    "kafka": KafkaConfig,
    "health": HealthConfig,
    "log": LogConfig,
    "identity": IdentityConfigSection,
    "audit": AuditConfig,
    "rbac": RbacConfig,
    "messaging": MessagingConfig,
    "federation": FederationConfig,
    "retention": RetentionConfig,
    "lawful": LawfulConfig,
}


@dataclass(frozen=True)
class Override:
    """One value from the command line. `key` is "section.name"; `source` names the flag for errors."""

    key: str
    value: object
    source: str


@dataclass(frozen=True)
class _Raw:
    value: object
    source: str


def default_settings(region: str) -> dict[str, dict[str, object]]:
    """Raw defaults for `region`: loopback addresses and the development ports from svyaz.regions."""
    ports = PORTS[region]
    return {
        # hostname plus pid: unique among the node processes of one machine, readable in `ps`.
        "node": {
            "id": f"{region}-{socket.gethostname()}-{os.getpid()}",
            "shutdown_grace_s": 10.0,
            # Keys (token MAC key, audit signing key) live here; the development stack's state dir.
            "data_dir": str(default_state_dir() / region),
        },
        "gateway": {
            "host": "127.0.0.1",
            "port": ports.gateway,
            "max_frame_bytes": 64 * 1024,
            "max_connections": 10_000,
            "outbox_size": 256,
            "handshake_timeout_s": 10.0,
            "trusted_proxies": "",
        },
        "http": {"host": "127.0.0.1", "port": ports.http, "request_timeout_s": 10.0},
        "store": {
            "url": f"mongodb://127.0.0.1:{ports.ferretdb}/",
            "database_prefix": f"svyaz_{region}",
            "timeout_s": 2.0,
            "max_threads": 8,
            "encrypt_content": True,
        },
        "kafka": {"bootstrap_servers": f"127.0.0.1:{ports.kafka}", "topic_prefix": "", "timeout_s": 2.0},
        # The probe timeout is above the drivers' own timeouts, so a failing probe reports the
        # driver's reason ("connection refused") rather than just "no answer".
        "health": {"probe_interval_s": 2.0, "probe_timeout_s": 3.0},
        "log": {"level": "INFO", "format": "json"},
        "identity": {
            "access_lifetime_s": 300,
            "password_iterations": 10_000,
            "session_check_interval_s": 2.0,
            "reauth_lead_s": 60.0,
        },
        "audit": {"checkpoint_every_entries": 1000, "checkpoint_every_s": 300.0},
        "rbac": {"policy_dir": str(DEFAULT_POLICY_DIR), "reload_interval_s": 60.0},
        "messaging": {"send_rate_per_s": 5.0, "send_burst": 30, "group_push_limit": 1000},
        "federation": {"enabled": False, "key_dir": "", "peers": {}, "max_ahead": MAX_AHEAD,
                       "send_timeout_s": 5.0, "answer_wait_s": 10.0},
        "retention": {"enabled": True, "purge_interval_s": 86_400.0},
        "lawful": {"expiry_sweep_interval_s": 300.0},
    }


def load_config(
    region: str,
    *,
    path: Path | None = None,
    environ: Mapping[str, str],
    overrides: Sequence[Override] = (),
) -> NodeConfig:
    """Merge the layers for `region` and check every value; raises ConfigError naming the bad key."""
    if region not in KNOWN_REGIONS:
        raise ConfigError(f"region: unknown region {region!r}", hint="use one of " + ", ".join(KNOWN_REGIONS))
    settings = {
        section: {key: _Raw(value, "default") for key, value in values.items()}
        for section, values in default_settings(region).items()
    }
    layers: list[Iterator[tuple[str, str, _Raw]]] = []
    if path is not None:
        layers.append(_file_settings(path))
    layers.append(_environment_settings(environ))
    layers.append(_override_settings(overrides))
    for layer in layers:
        for section, key, raw in layer:
            _check_known(section, key, raw.source)
            settings[section][key] = raw
    sections = {name: _build_section(name, cls, settings[name]) for name, cls in SECTIONS.items()}
    sections["federation"] = _check_federation(region, sections["federation"], sections["node"],
                                               settings["federation"])
    return NodeConfig(region=region, **sections)


def _check_federation(region: str, federation: FederationConfig, node: NodeSection,
                      raws: Mapping[str, _Raw]) -> FederationConfig:
    """What one key cannot say alone: the key directory's default, the peers against the region
    (each PEM loaded, so a bad one stops start-up), and that an enabled federation has a peer."""
    peers_source = raws["peers"].source
    if region in federation.peers:
        raise ConfigError(f"federation.peers.{region}: a node does not pin its own region (from {peers_source})",
                          hint=f"this node is {region}; pin the other regions' keys")
    try:
        peer_keys = load_peer_keys(region, federation.peers)
    except FederationConfigError as err:
        raise ConfigError(f"{redact_secrets(str(err))} (from {peers_source})", hint=err.hint) from None
    if federation.enabled and not peer_keys.peers:
        raise ConfigError(
            f"federation.peers: federation.enabled is true (from {raws['enabled'].source}) but no peer is pinned",
            hint="pin each peer's node.pub.pem under [federation.peers], e.g. kz = [\"/etc/svyaz/peers/kz.pub.pem\"]",
        )
    key_dir = federation.key_dir or str(Path(node.data_dir) / "federation")
    return replace(federation, key_dir=key_dir, peer_keys=peer_keys)


def _file_settings(path: Path) -> Iterator[tuple[str, str, _Raw]]:
    source = f"config file {path}"
    try:
        with path.open("rb") as file:
            document = tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError(f"{source}: not found", hint="check the --config path") from None
    except OSError as err:
        raise ConfigError(f"{source}: cannot be read ({err.strerror})") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{source}: not valid TOML ({err})") from err
    for section, table in document.items():
        _check_known(section, None, source)
        if not isinstance(table, dict):
            raise ConfigError(f"{section}: expected a table [{section}], got {table!r} (from {source})")
        for key, value in table.items():
            yield section, key, _Raw(value, source)


def _environment_settings(environ: Mapping[str, str]) -> Iterator[tuple[str, str, _Raw]]:
    for name, value in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name.removeprefix(ENV_PREFIX).partition("__")
        # Other tools share the SVYAZ_ prefix (SVYAZ_STATE_DIR, ...): only the node's sections are ours.
        if section.lower() in SECTIONS:
            yield section.lower(), key.lower(), _Raw(value, name)


def _override_settings(overrides: Sequence[Override]) -> Iterator[tuple[str, str, _Raw]]:
    for override in overrides:
        section, _, key = override.key.partition(".")
        yield section, key, _Raw(override.value, override.source)


def _check_known(section: str, key: str | None, source: str) -> None:
    if section not in SECTIONS:
        raise ConfigError(
            f"{section}: unknown section (from {source})", hint="known sections: " + ", ".join(SECTIONS)
        )
    known = [f.name for f in fields(SECTIONS[section]) if "parse" in f.metadata]
    if key is not None and key not in known:
        raise ConfigError(
            f"{section}.{key}: unknown key (from {source})",
            hint=f"known keys in [{section}]: " + ", ".join(known),
        )


def _build_section(name: str, cls: type, raws: Mapping[str, _Raw]) -> Any:
    values = {}
    for spec in fields(cls):
        if "parse" not in spec.metadata:
            continue  # derived by load_config, not a setting
        raw = raws[spec.name]
        try:
            values[spec.name] = spec.metadata["parse"](raw.value)
        except _Invalid as invalid:
            shown = redact_secrets(repr(raw.value))
            raise ConfigError(
                f"{name}.{spec.name}: expected {invalid.expected}, got {shown} (from {raw.source})"
            ) from None
    return cls(**values)
