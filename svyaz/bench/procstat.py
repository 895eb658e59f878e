"""CPU and memory of processes, read from /proc (psutil is not a dependency), and the machine.

CPU is user + system time in seconds; a difference of two readings over a window, divided by the
window, is cores used (1.0 = one core busy all the time).
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from svyaz.regions import PORTS

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")
_PROC = Path("/proc")


def _stat_fields(path: Path) -> list[str]:
    text = path.read_text()
    # The command name may hold spaces and parentheses: fields start after the last ')'.
    return text[text.rindex(")") + 2:].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process `pid` (all its threads) so far."""
    fields = _stat_fields(_PROC / str(pid) / "stat")
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_bytes(pid: int) -> int:
    return int((_PROC / str(pid) / "statm").read_text().split()[1]) * _PAGE


def thread_cpu(pid: int) -> dict[int, tuple[str, float]]:
    """CPU seconds of each live thread of `pid`: thread id -> (its group, see `thread_group`; seconds)."""
    threads = {}
    for task in (_PROC / str(pid) / "task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = _stat_fields(task / "stat")
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue  # the thread ended between listing and reading
        threads[int(task.name)] = (thread_group(name, main=task.name == str(pid)),
                                   (int(fields[11]) + int(fields[12])) / _TICKS)
    return threads


def thread_split(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]],
                 total_s: float) -> dict[str, float]:
    """CPU seconds per thread group between two `thread_cpu` readings. Threads that ended in
    between (trio retires idle worker threads) took their seconds with them: those are what the
    process's total shows beyond the live threads, under "ended threads"."""
    groups: dict[str, float] = defaultdict(float)
    for tid, (group, spent) in after.items():
        groups[group] += spent - (before[tid][1] if tid in before else 0.0)
    ended = total_s - sum(groups.values())
    if ended > 0.005:
        groups["ended threads"] += ended
    return dict(groups)


def thread_group(name: str, *, main: bool) -> str:
    """The node's threads by role. trio names a worker thread after the function it runs
    (truncated to 15 characters), so the long-lived Kafka loops keep their names."""
    if main:
        return "main (trio: gateway, JSON, handlers)"
    if name.startswith("rdk:"):
        return "librdkafka"
    if name.startswith(("poll_until_stop", "consume_until_")):
        return "kafka poll loops (python)"
    return "worker threads (store calls, hashing)"


@dataclass(frozen=True)
class ProcessSample:
    label: str
    cpu_s: float


def all_processes() -> dict[int, ProcessSample]:
    """Every process's CPU so far, labelled (Kafka, FerretDB and MirrorMaker by region)."""
    samples = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat_fields(entry / "stat")
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            comm = (entry / "comm").read_text().strip()
        except (FileNotFoundError, ProcessLookupError, PermissionError, ValueError):
            continue
        samples[int(entry.name)] = ProcessSample(process_label(comm, cmdline),
                                                 (int(fields[11]) + int(fields[12])) / _TICKS)
    return samples


def process_label(comm: str, cmdline: str) -> str:
    if "MirrorMaker" in cmdline:
        return "mirrormaker2"
    if "kafka.Kafka" in cmdline:
        region = re.search(r"/(\w+)/kafka/server\.properties", cmdline)
        return f"kafka {region.group(1) if region else '?'}"
    if comm.startswith("ferretdb"):
        port = re.search(r"--listen-addr=\S+:(\d+)", cmdline)
        regions = {str(ports.ferretdb): region for region, ports in PORTS.items()}
        return f"ferretdb {regions.get(port.group(1), '?') if port else '?'}"
    return comm


def busiest(before: dict[int, ProcessSample], after: dict[int, ProcessSample], *, seconds: float,
            names: dict[int, str] | None = None, top: int = 8) -> dict[str, float]:
    """Cores used per label between two `all_processes()` readings, busiest first. `names`
    relabels known pids (the node, the bench)."""
    used: dict[str, float] = defaultdict(float)
    for pid, sample in after.items():
        start = before.get(pid)
        spent = sample.cpu_s - (start.cpu_s if start is not None and start.label == sample.label else 0.0)
        if spent > 0:
            used[(names or {}).get(pid, sample.label)] += spent / seconds
    return {label: round(cores, 3) for label, cores in sorted(used.items(), key=lambda kv: -kv[1])[:top]}


def machine() -> dict[str, object]:
    return {
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "memory_gib": round(os.sysconf("SC_PHYS_PAGES") * _PAGE / 2**30, 1),
    }


def rss_if_running(pid: int | None) -> int | None:
    """`rss_bytes(pid)`, or None without a pid or once the process is gone."""
    if pid is None:
        return None
    try:
        return rss_bytes(pid)
    except (FileNotFoundError, ProcessLookupError):
        return None


def mib(value: int | None) -> float | None:
    return None if value is None else round(value / 2**20, 1)
