"""Start, find and stop the stack's daemons.

Each daemon runs in its own session (so it outlives the `svyaz` command and can be stopped with
its children), writes to a log file, and is recorded with its pid AND its kernel start time:
`down` stops exactly the processes `up` started, never an unrelated one that reused a pid.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcessRecord:
    service: str  # e.g. "ru/kafka", "mirrormaker"
    pid: int
    start_ticks: int
    argv: list[str]
    log: str
    started_at: float = 0.0  # Unix time of the spawn; 0 in records written before it was kept


def _start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces, so split after its closing parenthesis.
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[19])


def spawn(service: str, argv: list[str], *, log: Path, cwd: Path, env: dict[str, str] | None = None) -> ProcessRecord:
    log.parent.mkdir(parents=True, exist_ok=True)
    started_at = time.time()
    with open(log, "ab") as out:
        out.write(f"\n=== svyaz: starting {service} at {time.strftime('%Y-%m-%dT%H:%M:%S')} ===\n".encode())
        out.flush()
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    ticks = _start_ticks(proc.pid)
    return ProcessRecord(service=service, pid=proc.pid, start_ticks=ticks or 0, argv=argv, log=str(log),
                         started_at=started_at)


def is_running(record: ProcessRecord) -> bool:
    ticks = _start_ticks(record.pid)
    if ticks is None or ticks != record.start_ticks:
        return False
    try:  # a zombie still has /proc/PID/stat; state "Z" means it has exited
        state = Path(f"/proc/{record.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    if state == "Z":
        _reap(record.pid)
        return False
    return True


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def terminate(record: ProcessRecord, *, grace_s: float = 20.0) -> None:
    """SIGTERM the daemon's process group, then SIGKILL what is left after `grace_s`."""
    if not is_running(record):
        return
    _signal_group(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not is_running(record):
            return
        time.sleep(0.1)
    _signal_group(record.pid, signal.SIGKILL)
    while is_running(record):
        time.sleep(0.05)


def kill(record: ProcessRecord) -> None:
    """SIGKILL the daemon's process group at once, as a crash would (fault-injection tests)."""
    if is_running(record):
        _signal_group(record.pid, signal.SIGKILL)
        while is_running(record):
            time.sleep(0.05)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)  # started with start_new_session, so pgid == pid
    except ProcessLookupError:
        pass


def rss_kib(record: ProcessRecord) -> int | None:
    """Resident memory of the daemon, from /proc/PID/status (VmRSS)."""
    try:
        for line in Path(f"/proc/{record.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class ProcessTable:
    """The `processes.json` file under the state directory: which daemons this stack started."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, ProcessRecord]:
        try:
            raw = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        return {name: ProcessRecord(**fields) for name, fields in raw.items()}

    def save(self, records: dict[str, ProcessRecord]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({name: asdict(r) for name, r in records.items()}, indent=2))
        tmp.replace(self.path)

    def put(self, record: ProcessRecord) -> None:
        records = self.load()
        records[record.service] = record
        self.save(records)

    def remove(self, service: str) -> None:
        records = self.load()
        records.pop(service, None)
        self.save(records)
