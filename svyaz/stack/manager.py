"""`stack up`, `down` and `status`: start what is missing, wait until healthy, stop what we started."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka.admin import NewTopic

from svyaz.errors import SvyazError
from svyaz.regions import KNOWN_REGIONS
from svyaz.stack import probes, toolchain
from svyaz.stack.process import ProcessRecord, ProcessTable, is_running, kill, rss_kib, spawn, terminate
from svyaz.stack.services import FerretDB, KafkaBroker, MirrorMaker, Runtime, Service
from svyaz.stack.topology import kafka_bootstrap

Progress = Callable[[str], None]
# A port inside the kernel's ephemeral range (32768-60999 by default; the stack's own ports stay
# below it, svyaz/regions.py) can be given to an outgoing connection while its service is down,
# most often to a client retrying that very port: the kernel connects it to itself (a TCP
# self-connect). Until that socket closes the restarted service cannot bind the port.
PORT_TAKEN = "ddress already in use"  # Java's BindException and Go's bind error both say it
START_ATTEMPTS = 3
PORT_WAIT_S = 90.0


class ServiceExited(SvyazError):
    """A service's process ended while it was starting."""

    code = "service_exited"


class PortHeld(SvyazError):
    """A service could not start because a socket that is not a listener holds one of its ports."""

    code = "port_held"


@dataclass(frozen=True)
class ServiceStatus:
    service: str
    pid: int | None
    port: int | None
    running: bool
    healthy: bool
    detail: str
    rss_kib: int | None
    log: str

    def as_json(self) -> dict:
        return self.__dict__.copy()


class Stack:
    def __init__(self, state_dir: Path, progress: Progress = print) -> None:
        self.state_dir = state_dir
        self.progress = progress
        self.table = ProcessTable(state_dir / "processes.json")

    # --- up -------------------------------------------------------------------------------------

    def up(self, regions: tuple[str, ...]) -> None:
        started = time.monotonic()
        runtime = resolve_runtime(self.progress)
        brokers = [KafkaBroker(region, self.state_dir, runtime) for region in regions]
        stores = [FerretDB(region, self.state_dir, runtime) for region in regions]
        self.start_services([*brokers, *stores])
        active = self._regions_with_running_kafka()
        for region in active:
            self._ensure_outbox_topics(region, [peer for peer in active if peer != region])
        if len(active) >= 2:
            self._ensure_mirrormaker(MirrorMaker(active, self.state_dir, runtime))
        else:
            self.progress("mirrormaker: not needed for a single region")
        self.progress(f"stack up: {', '.join(regions)} ready in {time.monotonic() - started:.1f}s "
                      f"(state in {self.state_dir})")

    def start_services(self, services: list[Service], *, timeout_s: float | None = None) -> None:
        """Start every service that is not running, then wait for all of them at once (each for
        `timeout_s`, default its own start time-out)."""
        records = self.table.load()
        to_wait: list[Service] = []
        for service in services:
            record = records.get(service.name)
            if record is not None and is_running(record):
                self.progress(f"{service.name}: already running (pid {record.pid})")
                continue
            self._check_port_free(service)
            service.prepare()
            self._spawn(service)
            to_wait.append(service)
        with ThreadPoolExecutor(max_workers=max(1, len(to_wait))) as pool:
            list(pool.map(lambda service: self._wait_healthy(service, timeout_s), to_wait))

    def _spawn(self, service: Service) -> ProcessRecord:
        record = spawn(service.name, service.argv(), log=service.log, cwd=service.home)
        self.table.put(record)
        self.progress(f"{service.name}: starting (pid {record.pid}, log {service.log})")
        return record

    def _check_port_free(self, service: Service) -> None:
        for port in _ports(service):
            if probes.port_open(port):
                raise SvyazError(
                    f"{service.name}: port {port} is already in use by a process this stack did not start",
                    hint=f"find it with `ss -ltnp 'sport = :{port}'` and stop it, "
                         "or `svyaz stack down` if it is left from another checkout's stack",
                )

    def _wait_healthy(self, service: Service, timeout_s: float | None = None) -> None:
        record = self.table.load()[service.name]
        if isinstance(service, MirrorMaker):
            service.since = record.started_at
        timeout_s = timeout_s or service.start_timeout_s
        began = time.monotonic()
        detail = "not checked yet"
        while time.monotonic() - began < timeout_s:
            if not is_running(record):
                raise ServiceExited(
                    f"{service.name} exited during start-up:\n    " + "\n    ".join(_tail(service.log, 12)),
                    hint=f"read the whole log: svyaz stack logs {service.name.replace('/', ' ')}",
                )
            healthy, detail = service.health()
            if healthy:
                self.progress(f"{service.name}: healthy after {time.monotonic() - began:.1f}s ({detail})")
                return
            time.sleep(0.5)
        raise SvyazError(
            f"{service.name} did not become healthy within {timeout_s:.0f}s: {detail}",
            hint=f"read its log: svyaz stack logs {service.name.replace('/', ' ')}",
        )

    def _regions_with_running_kafka(self) -> tuple[str, ...]:
        records = self.table.load()
        return tuple(
            name.split("/")[0] for name, record in records.items()
            if name.endswith("/kafka") and is_running(record)
        )

    def _ensure_outbox_topics(self, region: str, peers: Iterable[str]) -> None:
        """MirrorMaker 2 starts a flow's task only once its topic exists, so create outboxes up front."""
        admin = probes.kafka_admin(kafka_bootstrap(region))
        existing = set(admin.list_topics(timeout=10).topics)
        wanted = [NewTopic(f"outbox.{peer}", num_partitions=1, replication_factor=1)
                  for peer in peers if f"outbox.{peer}" not in existing]
        for topic, future in (admin.create_topics(wanted).items() if wanted else []):
            try:
                future.result(timeout=15)
            except Exception as err:  # noqa: BLE001 - an already-existing topic is fine
                if "TOPIC_ALREADY_EXISTS" not in str(err):
                    raise SvyazError(f"{region}/kafka: cannot create {topic}: {err}") from err
            self.progress(f"{region}/kafka: created topic {topic}")

    def _ensure_mirrormaker(self, mirror: MirrorMaker) -> None:
        record = self.table.load().get(mirror.name)
        if record is not None and is_running(record):
            if not mirror.config_changed():
                self.progress(f"mirrormaker: already running (pid {record.pid})")
                return
            self.progress("mirrormaker: its configuration changed (regions or settings), restarting")
            terminate(record)
        mirror.prepare()
        self._spawn(mirror)
        self._wait_healthy(mirror)

    # --- down and status ------------------------------------------------------------------------

    def down(self) -> list[str]:
        """Stop every daemon this stack recorded, MirrorMaker first, then stores and brokers."""
        records = self.table.load()
        order = sorted(records, key=lambda name: (name != "mirrormaker", name.endswith("/kafka"), name))
        stopped = []
        for name in order:
            record = records[name]
            if is_running(record):
                self.progress(f"{name}: stopping (pid {record.pid})")
                terminate(record)
                stopped.append(name)
            self.table.remove(name)
        return stopped

    # --- one service (fault-injection tests) -----------------------------------------------------

    def stop_service(self, name: str, *, crash: bool = False) -> bool:
        """Stop one service of the running stack, e.g. "mirrormaker" or "kz/kafka": SIGTERM (SIGKILL
        after a grace), or with `crash` SIGKILL at once, as a crash would. Its record stays, so
        `status` shows it stopped and `start_service` or `up` starts it again. False if it was not
        running."""
        record = self.table.load().get(name)
        if record is None:
            raise SvyazError(f"no service {name!r} in the stack under {self.state_dir}",
                             hint="`svyaz stack status` lists them")
        if not is_running(record):
            return False
        self.progress(f"{name}: {'killing' if crash else 'stopping'} (pid {record.pid})")
        (kill if crash else terminate)(record)
        return True

    def start_service(self, name: str, runtime: Runtime | None = None, *, timeout_s: float | None = None) -> None:
        """Start one recorded service again on its ports, data and configuration (MirrorMaker 2 with
        the regions it mirrored) unless it runs, and return once it is healthy, whoever started it
        (another `svyaz stack up` may have, a moment ago). Blocking. `timeout_s`: how long to wait
        for health (default the service's start time-out; a broker killed with SIGKILL recovers its
        logs first). Started again if it could not bind its port (PORT_TAKEN)."""
        self.start_one(self.service(name, runtime or resolve_runtime(self.progress)), timeout_s=timeout_s)

    def start_one(self, service: Service, *, timeout_s: float | None = None) -> None:
        """`start_service` for a service object. Waits (up to PORT_WAIT_S) for its ports to be free
        of any socket first, and starts it again if it still could not bind them."""
        for attempt in range(1, START_ATTEMPTS + 1):
            record = self.table.load().get(service.name)
            if record is None or not is_running(record):
                self._wait_ports_bindable(service)
            try:
                self.start_services([service], timeout_s=timeout_s)
                self._wait_healthy(service, timeout_s)
                return
            except ServiceExited as err:
                if not _port_was_taken(service.log):
                    raise
                if attempt == START_ATTEMPTS:
                    raise PortHeld(f"{service.name} could not bind its ports in {START_ATTEMPTS} starts",
                                   hint=_port_hint(_ports(service))) from err
            self.progress(f"{service.name}: its port was taken while it started; starting it again")

    def _wait_ports_bindable(self, service: Service) -> None:
        began = time.monotonic()
        while True:
            held = [port for port in _ports(service) if not probes.port_bindable(port)]
            if not held:
                return
            if time.monotonic() - began > PORT_WAIT_S:
                raise PortHeld(f"{service.name}: port {held[0]} is still held by a socket after {PORT_WAIT_S:.0f}s "
                               "(not a listener: an outgoing connection, or its TIME-WAIT)", hint=_port_hint(held))
            time.sleep(1)

    def service(self, name: str, runtime: Runtime) -> Service:
        """The service a name in the process table stands for."""
        region, _, kind = name.partition("/")
        if name == MirrorMaker.name:
            regions = self._mirrored_regions()
            if len(regions) < 2:
                raise SvyazError(f"mirrormaker: no region list in {self.state_dir / 'mirrormaker' / 'mm2.properties'}",
                                 hint="start the whole stack with `svyaz stack up`")
            return MirrorMaker(regions, self.state_dir, runtime)
        if region in KNOWN_REGIONS and kind in ("kafka", "ferretdb"):
            return (KafkaBroker if kind == "kafka" else FerretDB)(region, self.state_dir, runtime)
        raise SvyazError(f"no stack service is called {name!r}",
                         hint="use mirrormaker or <region>/kafka, <region>/ferretdb (`svyaz stack status`)")

    def status(self) -> list[ServiceStatus]:
        records = self.table.load()
        services = self._known_services(records)
        statuses = []
        for name, record in sorted(records.items()):
            running = is_running(record)
            service = services.get(name)
            healthy, detail = (service.health() if running and service else (False, "not running"))
            statuses.append(ServiceStatus(
                service=name, pid=record.pid if running else None,
                port=service.port if service else None, running=running, healthy=healthy,
                detail=detail, rss_kib=rss_kib(record) if running else None, log=record.log,
            ))
        return statuses

    def _known_services(self, records: dict[str, ProcessRecord]) -> dict[str, Service]:
        """Rebuild service objects for health checks; no download happens for `status`."""
        runtime = Runtime(java="java", kafka_lib=Path(), log4j_config=Path(), ferretdb=Path())
        regions = tuple(sorted({name.split("/")[0] for name in records if "/" in name}))
        services: dict[str, Service] = {}
        for region in regions:
            for service in (KafkaBroker(region, self.state_dir, runtime), FerretDB(region, self.state_dir, runtime)):
                services[service.name] = service
        if "mirrormaker" in records:
            services["mirrormaker"] = MirrorMaker(self._mirrored_regions(), self.state_dir, runtime)
            services["mirrormaker"].since = records["mirrormaker"].started_at
        return services

    def _mirrored_regions(self) -> tuple[str, ...]:
        """The region list the running MirrorMaker 2 was configured with."""
        config = (self.state_dir / "mirrormaker" / "mm2.properties")
        for line in config.read_text().splitlines() if config.exists() else []:
            if line.startswith("clusters ="):
                return tuple(part.strip() for part in line.split("=", 1)[1].split(","))
        return ()


def resolve_runtime(progress: Progress) -> Runtime:
    """Find or fetch everything the daemons run with (cached after the first time)."""
    java = toolchain.require_java()  # cheapest checks first, so a missing tool fails fast
    lib = toolchain.kafka_lib_dir(progress)
    ferretdb = toolchain.ferretdb_binary(progress)
    toolchain.ensure_debian_packages(progress)
    return Runtime(java=java, kafka_lib=lib, ferretdb=ferretdb,
                   log4j_config=toolchain.deploy_dir() / "kafka" / "log4j2.xml")


def _port_hint(ports: list[int]) -> str:
    hint = (f"see `ss -tanp 'sport = :{ports[0]}'`; a connection to itself is a client retrying that port, "
            "which holds it until that client is restarted")
    ephemeral = probes.ephemeral_range()
    inside = [str(port) for port in ports if ephemeral and ephemeral[0] <= port <= ephemeral[1]]
    if ephemeral and inside:
        hint += (f". Ports {', '.join(inside)} lie in the kernel's ephemeral range {ephemeral[0]}-{ephemeral[1]}: "
                 f"reserve them (sysctl -w net.ipv4.ip_local_reserved_ports={','.join(inside)})")
    return hint


def _ports(service: Service) -> list[int]:
    ports = [service.port] + ([service.controller_port] if isinstance(service, KafkaBroker) else [])
    return [port for port in ports if port is not None]


def _port_was_taken(log: Path) -> bool:
    """Did the latest start (what the log holds after its last `spawn` header) fail to bind a port?"""
    lines = _tail(log, 300)
    starts = [i for i, line in enumerate(lines) if line.startswith("=== svyaz: starting ")]
    return any(PORT_TAKEN in line for line in lines[starts[-1] if starts else 0:])


def _tail(path: Path, lines: int) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-lines:]
    except FileNotFoundError:
        return ["(no log written)"]
