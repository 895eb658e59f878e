"""The three kinds of daemon in the stack: what each writes before it starts, how it is started,
and how its health is judged."""

from __future__ import annotations

import base64
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from svyaz.errors import SvyazError
from svyaz.federation import mm2
from svyaz.regions import PORTS
from svyaz.stack import probes
from svyaz.stack.topology import kafka_bootstrap

# Three brokers and MirrorMaker 2 share two cores with the tests: small heaps, serial GC.
JVM_OPTS = ["-Xms64m", "-XX:+UseSerialGC", "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true"]
BROKER_HEAP = "-Xmx512m"
MIRROR_HEAP = "-Xmx384m"
STACK_HEADER = "# Written by `svyaz stack up` from the region list; edits are overwritten."
# The integration suite runs every test against this one stack, each with its own topic prefix
# (`t` and eight hex digits, then `.`: tests/conftest.py `test_id`), so a federation test's outboxes
# are `t3f9a1c2b.outbox.kz` and the like. The stack carries those as well as the unprefixed outbox of
# nodes started without a prefix; nothing else matches (tests/unit/federation/test_mm2.py).
TEST_TOPIC_PREFIXES = r"(t[0-9a-f]{8}\.)?"
# Those per-test outboxes appear all the time; MirrorMaker 2 only carries a topic once a refresh has
# seen it, so the stack looks every second (production's is mm2.REFRESH_TOPICS_INTERVAL_S;
# measured in docs/federation.md).
STACK_REFRESH_TOPICS_INTERVAL_S = 1


@dataclass(frozen=True)
class Runtime:
    """Where the fetched tools are: found once per `stack up`."""

    java: str
    kafka_lib: Path
    log4j_config: Path
    ferretdb: Path


class Service:
    """A daemon of the stack. `name` is its key in the process table, e.g. "ru/kafka"."""

    name: str
    port: int | None
    home: Path
    start_timeout_s: float = 30.0

    def prepare(self) -> None:
        """Write configuration and initialise storage; idempotent."""

    def argv(self) -> list[str]:
        raise NotImplementedError

    def health(self) -> tuple[bool, str]:
        raise NotImplementedError

    @property
    def log(self) -> Path:
        return self.home.parent / f"{self.home.name}.log"


class KafkaBroker(Service):
    """Apache Kafka 4 in KRaft combined mode: one broker that is also its own controller."""

    start_timeout_s = 120.0  # three JVMs starting at once on two cores

    def __init__(self, region: str, state_dir: Path, runtime: Runtime, *,
                 port: int | None = None, controller_port: int | None = None) -> None:
        """Ports default to the region's; tests pass others to run a private broker."""
        self.region = region
        self.name = f"{region}/kafka"
        self.port = port or PORTS[region].kafka
        self.controller_port = controller_port or PORTS[region].kafka_controller
        self.home = state_dir / region / "kafka"
        self.runtime = runtime

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _properties(self) -> str:
        data = self.home / "data"
        return "\n".join([
            "# Written by `svyaz stack up`; edits are overwritten.",
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
            f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"log.dirs={data}",
            # One broker: every internal topic has a single replica.
            "offsets.topic.replication.factor=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "num.partitions=1",
            "auto.create.topics.enable=true",
            "log.retention.hours=168",
            "",
        ])

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        config = self.home / "server.properties"
        config.write_text(self._properties())
        if (self.home / "data" / "meta.properties").exists():
            return
        cluster_id_file = self.home / "cluster.id"
        if not cluster_id_file.exists():
            # Kafka wants a base64 UUID of 22 characters; uuid4 gives the same 16 random bytes.
            cluster_id_file.write_text(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))
        result = subprocess.run(
            [self.runtime.java, "-Xmx256m", *JVM_OPTS, "-cp", f"{self.runtime.kafka_lib}/*",
             f"-Dlog4j2.configurationFile={self.runtime.log4j_config}",
             # `--cluster-id=...` in one argument: a base64 id may start with "-".
             "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id_file.read_text().strip()}",
             "--config", str(config)],
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise SvyazError(
                f"{self.name}: formatting the storage failed: {(result.stdout + result.stderr).strip()[-800:]}",
                hint=f"remove {self.home} to start this region's Kafka from scratch",
            )

    def argv(self) -> list[str]:
        return [
            self.runtime.java, BROKER_HEAP, *JVM_OPTS, "-cp", f"{self.runtime.kafka_lib}/*",
            f"-Dlog4j2.configurationFile={self.runtime.log4j_config}",
            "kafka.Kafka", str(self.home / "server.properties"),
        ]

    def health(self) -> tuple[bool, str]:
        return probes.kafka_healthy(self.bootstrap)


class FerretDB(Service):
    """FerretDB 1.24 speaking the MongoDB wire protocol, with the SQLite backend (docs/adr/0002);
    our build of it, patched to look documents up by `_id` through the `_id` index (docs/adr/0003)."""

    def __init__(self, region: str, state_dir: Path, runtime: Runtime, *, port: int | None = None,
                 debug_port: int | None = None) -> None:
        """Ports default to the region's (FerretDB's metrics/debug port next to its wire port);
        tests pass free ones to run a private server."""
        self.region = region
        self.name = f"{region}/ferretdb"
        self.port = port or PORTS[region].ferretdb
        self.debug_port = debug_port or self.port + 1
        self.home = state_dir / region / "ferretdb"
        self.runtime = runtime

    def prepare(self) -> None:
        (self.home / "data").mkdir(parents=True, exist_ok=True)

    def argv(self) -> list[str]:
        return [
            str(self.runtime.ferretdb),
            "--handler=sqlite",
            f"--sqlite-url=file:{self.home / 'data'}/",
            f"--state-dir={self.home}",
            f"--listen-addr=127.0.0.1:{self.port}",
            f"--debug-addr=127.0.0.1:{self.debug_port}",
            "--telemetry=disable",
            "--log-level=WARN",
        ]

    def health(self) -> tuple[bool, str]:
        return probes.mongo_healthy(self.url)

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"


class MirrorMaker(Service):
    """One MirrorMaker 2 process in dedicated mode carrying `outbox.<peer>` from each region to that peer.

    The allow-list is the whole point: each flow `a->b` replicates the topic `outbox.b`, and the
    test suite's `t<8 hex>.outbox.b` (`TEST_TOPIC_PREFIXES`), and nothing else, arriving in b's
    cluster as `a.outbox.b` (`a.t<8 hex>.outbox.b`). Heartbeats and checkpoints are turned off so that
    no other topic crosses a border either. The properties come from `svyaz.federation.mm2`, the
    generator `svyaz federation mm2-config` uses too.
    """

    name = "mirrormaker"
    port = None
    start_timeout_s = 180.0

    def __init__(self, regions: tuple[str, ...], state_dir: Path, runtime: Runtime) -> None:
        self.regions = regions
        self.home = state_dir / "mirrormaker"
        self.runtime = runtime
        # Unix time the running process started (`ProcessRecord.started_at`): health counts only the
        # statuses written since. 0: every status counts.
        self.since = 0.0

    @property
    def flows(self) -> list[tuple[str, str]]:
        return mm2.flows(self.regions)

    def properties(self) -> str:
        # The one generator (also behind `svyaz federation mm2-config`), with the stack's addresses,
        # its tests' topic prefixes and a quicker topic refresh.
        return mm2.properties({region: kafka_bootstrap(region) for region in self.regions}, header=STACK_HEADER,
                              prefix_pattern=TEST_TOPIC_PREFIXES,
                              refresh_topics_interval_s=STACK_REFRESH_TOPICS_INTERVAL_S)

    @property
    def config_path(self) -> Path:
        return self.home / "mm2.properties"

    def config_changed(self) -> bool:
        try:
            return self.config_path.read_text() != self.properties()
        except FileNotFoundError:
            return True

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.properties())

    def argv(self) -> list[str]:
        return [
            self.runtime.java, MIRROR_HEAP, *JVM_OPTS, "-cp", f"{self.runtime.kafka_lib}/*",
            f"-Dlog4j2.configurationFile={self.runtime.log4j_config}",
            "org.apache.kafka.connect.mirror.MirrorMaker", str(self.config_path),
        ]

    def health(self) -> tuple[bool, str]:
        details = []
        all_healthy = True
        for source, target in self.flows:
            healthy, detail = probes.mirror_flow_healthy(kafka_bootstrap(target), source,
                                                         since_ms=int(self.since * 1000))
            all_healthy &= healthy
            details.append(f"{source}->{target}: {detail}")
        return all_healthy, "; ".join(details)
