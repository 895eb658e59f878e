"""Benchmark FerretDB 1.24 on its SQLite backend against its PostgreSQL backend.

Run:  .venv/bin/python bench/store_backends.py [--ops N] [--json]
      [--ferretdb PATH] [--baseline-ferretdb PATH]

The script is self-contained: in a fresh temporary directory it starts a private PostgreSQL
cluster (as the ``postgres`` OS user when run as root) and two FerretDB processes, one per backend,
on free loopback ports; runs the same messenger-shaped workload against each with pymongo; prints
the results; and tears everything down, also on Ctrl-C, SIGTERM or an error.

Workload (one collection, unique index on (chat_id, seq), ~300-byte message documents), in order:
  insert_many  fill the collection with batches of 100 documents (20k docs over 200 chats)
  insert_one   N single-document inserts, one client thread, into the filled collection
  threads      N single-document inserts shared by 4 client threads (--threads 0 skips it)
  latest       N finds of the latest 50 messages of a random chat: {chat_id}, sort seq desc, limit 50
  find_id      N find_one({_id}) of random existing documents
  explain      whether FerretDB pushed each read down to the backend, and the backend's plan
Each phase stops after N operations or --phase-seconds, whichever comes first (the output gives
the n measured), and runs on every backend before the next phase starts, so that background load
on a shared machine falls on both alike.

FerretDB is the local stack's build (FerretDB plus the patches in deploy/ferretdb/, built and cached
by svyaz.stack.toolchain on first use) unless --ferretdb names another binary. --baseline-ferretdb
adds a third column, "sqlite-baseline": the SQLite backend on that binary, e.g. an unpatched
FerretDB, interleaved with the others so both builds see the same background load
(docs/adr/0003-ferretdb-id-index-patch.md compares the two for find_one by _id).

Besides svyaz.stack.toolchain (only to find the binary), the standard library and pymongo are
used. No fakes: every side is a real server.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pwd
import random
import shutil
import signal
import socket
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import bson
import pymongo
from pymongo import MongoClient

DEFAULT_FERRETDB = os.environ.get("SVYAZ_FERRETDB")  # unset: the local stack's build
DEFAULT_PG_BIN = os.environ.get("SVYAZ_PG_BIN", "/usr/lib/postgresql/15/bin")

# Ports the rest of the dev stack (Kafka brokers, local FerretDB regions, exporters) may hold.
RESERVED_PORTS = ((19092, 30093), (27117, 27318), (8101, 8103), (9101, 9103))

BACKENDS = ("sqlite", "postgresql")
BASELINE = "sqlite-baseline"  # the SQLite backend on --baseline-ferretdb
CHATS = 200
DEFAULT_FILL = 20_000
BATCH = 100
PAGE = 50
TARGET_DOC_BYTES = 300
WARMUP = 20
WARMUP_BUDGET_S = 3.0
MIN_SAMPLES = 20
PG_DATABASE = "ferretdb"
PG_USER = "postgres"


class BenchError(Exception):
    """A server failed to start or the workload saw something it should not."""


# --------------------------------------------------------------------------- processes


def free_port(taken: set[int]) -> int:
    """A loopback TCP port that is free now, outside the reserved ranges and not yet handed out."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port in taken or any(lo <= port <= hi for lo, hi in RESERVED_PORTS):
            continue
        taken.add(port)
        return port
    raise BenchError("no free loopback port outside the reserved ranges")


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path
    stop_signal: int = signal.SIGTERM

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Stack:
    """Everything the run started; ``close()`` undoes it in reverse order."""

    root: Path
    procs: list[Proc] = field(default_factory=list)
    ports: set[int] = field(default_factory=set)

    def spawn(self, name: str, argv: Sequence[str], *, user: str | None = None,
              stop_signal: int = signal.SIGTERM) -> Proc:
        log = self.root / f"{name}.log"
        with open(log, "wb") as out:
            # A new session keeps Ctrl-C away from the servers: we stop them ourselves, in order.
            popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True, **as_user(user))
        proc = Proc(name, popen, log, stop_signal)
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        # Newest first: the FerretDB processes go before the PostgreSQL they talk to.
        while self.procs:
            popen = self.procs[-1].popen
            if popen.poll() is None:
                popen.send_signal(self.procs[-1].stop_signal)
                try:
                    popen.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    popen.kill()
                    popen.wait(timeout=10)
            self.procs.pop()
        shutil.rmtree(self.root, ignore_errors=True)


def as_user(user: str | None) -> dict:
    """subprocess keyword arguments that run the child as another OS user (we may run as root)."""
    if user is None:
        return {}
    pw = pwd.getpwnam(user)
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": [],
            "env": {**os.environ, "HOME": pw.pw_dir, "LC_ALL": "C"}}


def run_checked(argv: Sequence[str], *, user: str | None = None, timeout: float = 120) -> str:
    res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **as_user(user))
    if res.returncode != 0:
        detail = res.stderr.strip() or res.stdout.strip()
        raise BenchError(f"{argv[0]} failed ({res.returncode}): {detail}")
    return res.stdout


def wait_until(check: Callable[[], bool], proc: Proc, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise BenchError(f"{what} exited with {proc.popen.returncode}:\n{proc.tail()}")
        if check():
            return
        time.sleep(0.05)
    raise BenchError(f"{what} not ready after {timeout:.0f}s:\n{proc.tail()}")


@dataclass
class Postgres:
    port: int
    version: str
    settings: dict[str, str]
    ready_s: float

    @property
    def url(self) -> str:
        return f"postgres://{PG_USER}@127.0.0.1:{self.port}/{PG_DATABASE}"


def start_postgres(stack: Stack, pg_bin: Path) -> Postgres:
    t0 = time.perf_counter()
    # postgres refuses to run as root: give the cluster to the postgres OS user.
    user = "postgres" if os.geteuid() == 0 else None
    pgdir = stack.root / "pg"
    pgdir.mkdir()
    if user:
        pw = pwd.getpwnam(user)
        os.chown(pgdir, pw.pw_uid, pw.pw_gid)
    data = pgdir / "data"
    run_checked([str(pg_bin / "initdb"), "-D", str(data), "-U", PG_USER, "-A", "trust",
                 "-E", "UTF8", "--locale=C", "--no-sync"], user=user)
    port = free_port(stack.ports)
    proc = stack.spawn("postgres", [str(pg_bin / "postgres"), "-D", str(data), "-p", str(port),
                                    "-c", "listen_addresses=127.0.0.1",
                                    "-c", f"unix_socket_directories={pgdir}"],
                       user=user, stop_signal=signal.SIGINT)  # SIGINT = fast shutdown

    def ready() -> bool:
        return subprocess.run([str(pg_bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)],
                              capture_output=True).returncode == 0

    wait_until(ready, proc, "postgres")
    conn = ["-h", "127.0.0.1", "-p", str(port), "-U", PG_USER]
    run_checked([str(pg_bin / "createdb"), *conn, PG_DATABASE])
    ready_s = time.perf_counter() - t0
    out = run_checked([str(pg_bin / "psql"), *conn, "-d", PG_DATABASE, "-XAtF", "=", "-c",
                       "select name, current_setting(name) from pg_settings where name in "
                       "('server_version','fsync','synchronous_commit','shared_buffers','wal_level')"])
    settings = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    version = settings.pop("server_version", "?")
    return Postgres(port, version, settings, ready_s)


def pg_database_bytes(pg_bin: Path, pg: Postgres) -> int:
    out = run_checked([str(pg_bin / "psql"), "-h", "127.0.0.1", "-p", str(pg.port), "-U", PG_USER,
                       "-d", PG_DATABASE, "-XAtc", f"select pg_database_size('{PG_DATABASE}')"])
    return int(out.strip())


@dataclass
class Ferret:
    backend: str
    port: int
    ready_s: float
    data_dir: Path | None

    def client(self, **kw) -> MongoClient:
        return MongoClient("127.0.0.1", self.port, **{"directConnection": True,
                                                      "serverSelectionTimeoutMS": 2000, **kw})


def start_ferretdb(stack: Stack, binary: Path, backend: str, pg: Postgres | None,
                   label: str | None = None) -> Ferret:
    """A FerretDB on `backend`; `label` (default: the backend) names its directories and log."""
    label = label or backend
    t0 = time.perf_counter()
    port, debug_port = free_port(stack.ports), free_port(stack.ports)
    state = stack.root / f"state-{label}"
    state.mkdir()
    argv = [str(binary), f"--listen-addr=127.0.0.1:{port}", f"--debug-addr=127.0.0.1:{debug_port}",
            "--telemetry=disable", f"--state-dir={state}", "--log-level=WARN"]
    data_dir = None
    if backend == "sqlite":
        data_dir = stack.root / label
        data_dir.mkdir()
        argv += ["--handler=sqlite", f"--sqlite-url=file:{data_dir}/"]
    else:
        assert pg is not None
        argv += ["--handler=postgresql", f"--postgresql-url={pg.url}"]
    proc = stack.spawn(f"ferretdb-{label}", argv)
    ferret = Ferret(backend, port, 0.0, data_dir)

    def ready() -> bool:
        try:
            with ferret.client(serverSelectionTimeoutMS=200) as c:
                c.admin.command("ping")
            return True
        except pymongo.errors.PyMongoError:
            return False

    wait_until(ready, proc, f"ferretdb ({label})")
    ferret.ready_s = time.perf_counter() - t0
    return ferret


def stack_ferretdb(progress: Callable[[str], None]) -> Path:
    """The local stack's FerretDB build, built into the cache first if it is not there yet."""
    from svyaz.errors import SvyazError
    from svyaz.stack.toolchain import ferretdb_binary

    try:
        return ferretdb_binary(progress)
    except SvyazError as e:
        raise BenchError(f"{e} (fix: {e.hint})" if e.hint else str(e)) from e


def version_of(binary: Path) -> str:
    """`v1.24.2`, or `v1.24.2-svyaz1` for the stack's build, from `ferretdb --version`."""
    return run_checked([str(binary), "--version"]).splitlines()[0].split()[-1]


# --------------------------------------------------------------------------- workload


def pct(samples_ns: list[int]) -> dict[str, float]:
    """p50/p95/p99/mean in milliseconds."""
    q = statistics.quantiles(samples_ns, n=100, method="inclusive")
    ms = 1e-6
    return {"p50_ms": q[49] * ms, "p95_ms": q[94] * ms, "p99_ms": q[98] * ms,
            "mean_ms": statistics.fmean(samples_ns) * ms}


class Messages:
    """Deterministic ~300-byte message documents with per-chat monotonic sequence numbers."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.next_seq = [0] * CHATS
        probe = {**self._doc(0, 0, "x"), "_id": bson.ObjectId()}
        self.text_len = max(1, TARGET_DOC_BYTES - len(bson.encode(probe)) + 1)

    @staticmethod
    def chat(i: int) -> str:
        return f"chat:{i:05d}"

    def _doc(self, chat: int, seq: int, text: str) -> dict:
        sender = f"user:{self.rng.randrange(10_000):06d}"
        return {"chat_id": self.chat(chat), "seq": seq, "sender": sender, "text": text,
                "ts": datetime.now(timezone.utc)}

    def make(self, n: int) -> list[dict]:
        docs = []
        letters = string.ascii_letters + "      "
        for _ in range(n):
            chat = self.rng.randrange(CHATS)
            self.next_seq[chat] += 1
            text = "".join(self.rng.choices(letters, k=self.text_len))
            docs.append(self._doc(chat, self.next_seq[chat], text))
        return docs


def timed(op: Callable[[], object]) -> int:
    t = time.perf_counter_ns()
    op()
    return time.perf_counter_ns() - t


def measure(op: Callable[[int], object], n: int, budget_s: float,
            min_samples: int = MIN_SAMPLES) -> tuple[list[int], float]:
    """Run op(0..n-1) sequentially, stopping early after budget_s (but not before min_samples)."""
    lat: list[int] = []
    t0 = time.perf_counter_ns()
    deadline = t0 + int(budget_s * 1e9)
    for i in range(n):
        lat.append(timed(lambda: op(i)))
        if len(lat) >= min_samples and time.perf_counter_ns() > deadline:
            break
    return lat, (time.perf_counter_ns() - t0) / 1e9


def sqlite_step(detail: str) -> str:
    """"SCAN t" -> "SCAN"; "SEARCH t USING INDEX t__id_ (<expr>=?)" -> "SEARCH USING INDEX t__id_"."""
    words = detail.split(" (", 1)[0].split(" ")
    return " ".join([words[0], *words[words.index("USING"):]]) if "USING" in words else words[0]


def plan_summary(explain: dict) -> str:
    """The scan node(s) of FerretDB's explain output, for SQLite ("SCAN") and PostgreSQL."""
    plan = explain.get("queryPlanner", {}).get("Plan")
    if isinstance(plan, list):  # SQLite: EXPLAIN QUERY PLAN rows
        return "; ".join(sqlite_step(row.split("detail=", 1)[-1]) for row in plan) or "?"
    nodes: list[str] = []

    def walk(node: dict) -> None:
        nodes.append(node.get("Node Type", "?"))
        for child in node.get("Plans", []):
            walk(child)

    if isinstance(plan, dict):
        walk(plan)
    return " > ".join(nodes) or "?"


class Workload:
    """The messenger-shaped workload against one FerretDB; each phase is a method."""

    def __init__(self, ferret: Ferret, ops: int, budget_s: float, threads: int, seed: int) -> None:
        self.ferret = ferret
        self.ops = ops
        self.budget_s = budget_s
        self.threads = threads
        self.gen = Messages(seed)
        self.rng = random.Random(seed + 1)
        # One pooled client, as a node would hold; the pool also serves the concurrent phase.
        self.client = ferret.client(maxPoolSize=max(4, threads))
        db = self.client["svyaz_bench"]
        db.drop_collection("messages")
        self.db = db
        self.coll = db["messages"]
        self.coll.create_index([("chat_id", 1), ("seq", 1)], unique=True, name="chat_seq")
        self.inserted: list[dict] = []
        probe = {**self.gen.make(1)[0], "_id": bson.ObjectId()}
        self.res: dict = {"doc_bytes": len(bson.encode(probe))}
        self.gen.next_seq = [0] * CHATS  # the size probe consumed a sequence number

    def close(self) -> None:
        self.client.close()

    def insert_many(self, fill: int) -> None:
        docs = self.gen.make(fill)
        batches = [docs[i:i + BATCH] for i in range(0, fill, BATCH)]
        lat, wall = measure(lambda i: self.coll.insert_many(batches[i], ordered=True),
                            len(batches), budget_s=1e9)
        self.inserted += docs
        self.res["insert_many"] = {"ops": len(lat), "batch_size": BATCH, "docs": fill,
                                   "docs_per_s": fill / wall, "ops_per_s": len(lat) / wall, **pct(lat)}

    def insert_one(self) -> None:
        for d in self.gen.make(WARMUP):
            self.coll.insert_one(d)
            self.inserted.append(d)
        docs = self.gen.make(self.ops)
        lat, wall = measure(lambda i: self.coll.insert_one(docs[i]), len(docs), self.budget_s)
        self.inserted += docs[:len(lat)]
        self.res["insert_one"] = {"ops": len(lat), "ops_per_s": len(lat) / wall, **pct(lat)}

    def insert_one_threads(self) -> None:
        n = self.threads
        docs = self.gen.make(self.ops)
        chunks = [docs[k::n] for k in range(n)]
        lats: list[list[int]] = [[] for _ in range(n)]
        errors: list[BaseException] = []
        deadline = time.perf_counter_ns() + int(self.budget_s * 1e9)

        def worker(k: int) -> None:
            try:
                for d in chunks[k]:
                    lats[k].append(timed(lambda: self.coll.insert_one(d)))
                    if time.perf_counter_ns() > deadline:
                        break
            except BaseException as e:  # surfaced after join
                errors.append(e)

        workers = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(n)]
        t0 = time.perf_counter_ns()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        wall = (time.perf_counter_ns() - t0) / 1e9
        if errors:
            raise BenchError(f"concurrent insert failed: {errors[0]!r}") from errors[0]
        for k in range(n):
            self.inserted += chunks[k][:len(lats[k])]
        done = sum(map(len, lats))
        self.res["insert_one_threads"] = {"ops": done, "threads": n, "ops_per_s": done / wall,
                                          **pct([x for chunk in lats for x in chunk])}

    def _latest(self, chat: int) -> list[dict]:
        return list(self.coll.find({"chat_id": Messages.chat(chat)})
                    .sort("seq", pymongo.DESCENDING).limit(PAGE))

    def latest(self) -> None:
        total = self.coll.estimated_document_count()
        if total != len(self.inserted):
            raise BenchError(f"expected {len(self.inserted)} documents, found {total}")
        self.res["collection_docs"] = total
        chat0 = Messages.chat(0)
        mine = sorted((d["seq"] for d in self.inserted if d["chat_id"] == chat0), reverse=True)
        got = [d["seq"] for d in self._latest(0)]
        if got != mine[:PAGE]:
            raise BenchError(f"latest page of chat 0 is wrong: {got[:5]}... != {mine[:5]}...")
        measure(lambda i: self._latest(self.rng.randrange(CHATS)), WARMUP, WARMUP_BUDGET_S, 1)
        chats = [self.rng.randrange(CHATS) for _ in range(self.ops)]
        lat, wall = measure(lambda i: self._latest(chats[i]), len(chats), self.budget_s)
        self.res["latest"] = {"ops": len(lat), "page": PAGE, "ops_per_s": len(lat) / wall, **pct(lat)}

    def find_id(self) -> None:
        ids = [d["_id"] for d in self.inserted]

        def one(_id: bson.ObjectId) -> None:
            if self.coll.find_one({"_id": _id}) is None:
                raise BenchError(f"document {_id} not found")

        measure(lambda i: one(self.rng.choice(ids)), WARMUP, WARMUP_BUDGET_S, 1)
        picks = [self.rng.choice(ids) for _ in range(self.ops)]
        lat, wall = measure(lambda i: one(picks[i]), len(picks), self.budget_s)
        self.res["find_id"] = {"ops": len(lat), "ops_per_s": len(lat) / wall, **pct(lat)}

    def explain(self) -> None:
        """Record whether FerretDB pushed each read down to the backend, and the backend's plan."""
        some_id = self.inserted[0]["_id"]
        queries = {
            "latest": {"find": "messages", "filter": {"chat_id": Messages.chat(0)},
                       "sort": {"seq": -1}, "limit": PAGE},
            "find_id": {"find": "messages", "filter": {"_id": some_id}, "limit": 1,
                        "singleBatch": True},
        }
        out = {}
        for name, q in queries.items():
            e = self.db.command("explain", q)
            out[name] = {"filter_pushdown": e.get("filterPushdown"),
                         "sort_pushdown": e.get("sortPushdown"),
                         "limit_pushdown": e.get("limitPushdown"), "plan": plan_summary(e)}
        self.res["explain"] = out
        build = self.client.admin.command("buildInfo")
        self.res["server"] = {"version": build.get("version"), "ferretdb": build.get("ferretdbVersion")}


# --------------------------------------------------------------------------- output


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def render_table(report: dict) -> str:
    env = report["environment"]
    r = report["results"]
    cols = list(r)
    rows: list[tuple[str, ...]] = []

    def add(label: str, fmt: Callable[[dict], str]) -> None:
        rows.append((label, *(fmt(r[b]) for b in cols)))

    def lat(key: str) -> Callable[[dict], str]:
        return lambda x: "{p50_ms:.2f} / {p95_ms:.2f} / {p99_ms:.2f}".format(**x[key])

    def rate(key: str, unit: str = "ops_per_s") -> Callable[[dict], str]:
        def f(x: dict) -> str:
            v = x[key][unit]
            return f"{v:,.0f}  (n={x[key]['ops']})" if v >= 100 else f"{v:.1f}  (n={x[key]['ops']})"
        return f

    def pushed(key: str) -> Callable[[dict], str]:
        def f(x: dict) -> str:
            e = x["explain"][key]
            keys = ("filter_pushdown", "sort_pushdown", "limit_pushdown")
            flags = "/".join("y" if e[k] else "n" for k in keys)
            return f"{flags}  {e['plan']}"
        return f

    add("start-up to first ping, s", lambda x: f"{x['ready_s']:.2f}")
    add(f"insert_many({BATCH}): docs/s", rate("insert_many", "docs_per_s"))
    add(f"insert_many({BATCH}): batch p50/p95/p99 ms", lat("insert_many"))
    add("insert_one: ops/s", rate("insert_one"))
    add("insert_one: p50/p95/p99 ms", lat("insert_one"))
    if all("insert_one_threads" in r[b] for b in cols):
        n = r[cols[0]]["insert_one_threads"]["threads"]
        add(f"insert_one, {n} threads: ops/s", rate("insert_one_threads"))
        add(f"insert_one, {n} threads: p50/p95/p99 ms", lat("insert_one_threads"))
    add(f"latest {PAGE} of a chat: ops/s", rate("latest"))
    add(f"latest {PAGE} of a chat: p50/p95/p99 ms", lat("latest"))
    add(f"latest {PAGE}: pushdown f/s/l, plan", pushed("latest"))
    add("find_one by _id: ops/s", rate("find_id"))
    add("find_one by _id: p50/p95/p99 ms", lat("find_id"))
    add("find_one by _id: pushdown f/s/l, plan", pushed("find_id"))
    add("documents in collection", lambda x: f"{x['collection_docs']:,}")
    add("on-disk size after run, MiB", lambda x: f"{x['disk_bytes'] / 2**20:.1f}")

    head = ("metric", *(f"FerretDB/{b}" for b in cols))
    widths = [max(len(row[i]) for row in (head, *rows)) for i in range(len(head))]

    def fmt_row(row: Sequence[str]) -> str:
        return "  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i])
                         for i, c in enumerate(row))

    pg_settings = ", ".join(f"{k}={v}" for k, v in env["postgresql_settings"].items())
    pg = f"PostgreSQL {env['postgresql']} ({pg_settings})" if env["postgresql"] else "PostgreSQL not run"
    baseline = f", baseline {env['ferretdb_baseline']}" if env.get("ferretdb_baseline") else ""
    lines = [
        f"FerretDB {env['ferretdb']}{baseline} (wire version {env['ferretdb_wire_version']})  |  {pg}",
        f"{env['cpus']} CPUs, load average before run {env['loadavg_before']}, {env['platform']}, "
        f"Python {env['python']}, pymongo {env['pymongo']}",
        f"ops per phase <= {env['ops']} (or {env['phase_budget_s']:.0f}s, whichever first; "
        f"n = ops measured), "
        f"fill {env['fill']:,} docs over {env['chats']} chats, doc {env['doc_bytes']} B BSON, "
        f"1 client thread unless noted, phases interleaved across backends, wall {env['wall_s']:.0f}s",
        "",
        fmt_row(head),
        fmt_row(tuple("-" * w for w in widths)),
        *map(fmt_row, rows),
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--ops", type=int, default=2000,
                    help="operations per measured phase (default %(default)s)")
    ap.add_argument("--phase-seconds", type=float, default=20.0,
                    help="stop a phase early after this many seconds, keeping at least "
                         f"{MIN_SAMPLES} samples (default %(default)s)")
    ap.add_argument("--fill", type=int, default=DEFAULT_FILL,
                    help="documents inserted with insert_many before the other phases, rounded up "
                         "to a multiple of 100 (default %(default)s; smaller values only to see how "
                         "reads scale with collection size)")
    ap.add_argument("--threads", type=int, default=4,
                    help="client threads for the concurrent insert phase; 0 skips it (default 4)")
    ap.add_argument("--backends", default=",".join(BACKENDS),
                    help="comma-separated subset of: " + ", ".join(BACKENDS))
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--seed", type=int, default=20261128)
    ap.add_argument("--ferretdb", type=Path, default=Path(DEFAULT_FERRETDB) if DEFAULT_FERRETDB else None,
                    help="FerretDB binary (default: $SVYAZ_FERRETDB, else the local stack's build, "
                         "built into the cache if missing)")
    ap.add_argument("--baseline-ferretdb", type=Path, default=None,
                    help=f"also run the SQLite backend on this binary, as column {BASELINE!r} "
                         "(e.g. ~/.cache/svyaz/bin/ferretdb-v1.24.2, the unpatched build)")
    ap.add_argument("--pg-bin", type=Path, default=Path(DEFAULT_PG_BIN))
    args = ap.parse_args(argv)
    backends = [b for b in BACKENDS if b in {s.strip() for s in args.backends.split(",")}]
    if not backends or set(s.strip() for s in args.backends.split(",")) - set(BACKENDS):
        ap.error(f"--backends must be a subset of {','.join(BACKENDS)}")
    if args.ops < MIN_SAMPLES:
        ap.error(f"--ops must be at least {MIN_SAMPLES}")
    if args.threads < 0:
        ap.error("--threads must be >= 0")
    if args.fill < 1:
        ap.error("--fill must be positive")
    fill = (args.fill + BATCH - 1) // BATCH * BATCH
    for binary in (args.ferretdb, args.baseline_ferretdb):
        if binary is not None and not binary.is_file():
            ap.error(f"FerretDB binary not found: {binary}")

    def progress(msg: str) -> None:
        print(f"[bench {time.perf_counter() - started:5.0f}s] {msg}", file=sys.stderr, flush=True)

    def on_sigterm(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    # A shell starts background jobs with SIGINT ignored; Ctrl-C must still tear down.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    started = time.perf_counter()
    loadavg = " ".join(f"{x:.2f}" for x in os.getloadavg())
    root = Path(tempfile.mkdtemp(prefix="svyaz-bench-"))
    root.chmod(0o711)  # the postgres OS user must reach its own sub-directory
    stack = Stack(root)
    loads: dict[str, Workload] = {}
    try:
        if args.ferretdb is None:
            args.ferretdb = stack_ferretdb(progress)
        # (label, backend, binary) of each FerretDB to run; the label keys results and columns.
        targets = [(b, b, args.ferretdb) for b in backends]
        if args.baseline_ferretdb is not None:
            targets.append((BASELINE, "sqlite", args.baseline_ferretdb))
        ferretdb_version = version_of(args.ferretdb)
        pg = None
        if "postgresql" in backends:
            progress("starting PostgreSQL")
            pg = start_postgres(stack, args.pg_bin)
        ferrets = {}
        for label, b, binary in targets:
            progress(f"starting FerretDB ({label})")
            ferrets[label] = start_ferretdb(stack, binary, b, pg, label)
        for label, _, _ in targets:
            loads[label] = Workload(ferrets[label], args.ops, args.phase_seconds, args.threads, args.seed)
        # Interleave: each phase runs on every backend before the next phase starts, so that
        # background load on a shared machine drifts over both backends alike.
        phases: list[tuple[str, Callable[[Workload], None]]] = [
            (f"insert_many {fill} docs", lambda w: w.insert_many(fill)),
            ("insert_one", Workload.insert_one),
        ]
        if args.threads:
            phases.append((f"insert_one on {args.threads} threads", Workload.insert_one_threads))
        phases += [(f"latest {PAGE}", Workload.latest), ("find_one(_id)", Workload.find_id),
                   ("explain", Workload.explain)]
        for name, phase in phases:
            for label, _, _ in targets:
                progress(f"{label}: {name}")
                phase(loads[label])
        results = {}
        for label, b, _ in targets:
            r = loads[label].res
            r["ready_s"] = ferrets[label].ready_s + (pg.ready_s if b == "postgresql" and pg else 0.0)
            data_dir = ferrets[label].data_dir
            r["disk_bytes"] = dir_bytes(data_dir) if data_dir else pg_database_bytes(args.pg_bin, pg)
            results[label] = r
        first = results[targets[0][0]]
        report = {
            "environment": {
                "cpus": os.cpu_count(),
                "loadavg_before": loadavg,
                "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
                "python": platform.python_version(),
                "pymongo": pymongo.version,
                "ferretdb": ferretdb_version,
                "ferretdb_baseline": version_of(args.baseline_ferretdb) if args.baseline_ferretdb else None,
                "ferretdb_wire_version": first["server"]["version"],
                "postgresql": pg.version if pg else None,
                "postgresql_settings": pg.settings if pg else {},
                "ops": args.ops,
                "phase_budget_s": args.phase_seconds,
                "fill": fill,
                "chats": CHATS,
                "batch": BATCH,
                "page": PAGE,
                "threads": args.threads,
                "doc_bytes": first["doc_bytes"],
                "wall_s": time.perf_counter() - started,
                "argv": list(sys.argv[1:] if argv is None else argv),
            },
            "results": results,
        }
    except KeyboardInterrupt:
        progress("interrupted; tearing down")
        return 130
    except (BenchError, pymongo.errors.PyMongoError, OSError, subprocess.SubprocessError) as e:
        progress(f"error: {e}")
        return 1
    finally:
        for w in loads.values():
            w.close()
        stack.close()
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(render_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
