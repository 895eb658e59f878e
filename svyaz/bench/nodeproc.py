"""A node of the bench's own: `svyaz node serve --region ru` (or another region) as a subprocess on
free ports, isolated by name on the shared stack (databases `bench_<id>_*`, topics and groups
`bench<id>.*`, unless the caller names them), and everything it created dropped afterwards."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import trio
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from svyaz.client.connection import RemoteError, open_node_client
from svyaz.errors import SvyazError
from svyaz.regions import KNOWN_REGIONS

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
PROBE_PASSWORD = "bench probe harbour 4417"


class BenchError(SvyazError):
    code = "bench_error"


@dataclass(frozen=True)
class NodeProcess:
    pid: int
    url: str
    http_port: int
    settings: dict[str, str]   # the SVYAZ_ variables it was started with
    log_path: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_settings(*, run_id: str, store_url: str, kafka: str, data_dir: Path, gateway_port: int,
                   http_port: int, database_prefix: str | None = None,
                   topic_prefix: str | None = None) -> dict[str, str]:
    """The node's settings for a bench: isolated names, free ports, limits that do not limit.
    Databases `bench_<run_id>_*` and topics `bench<run_id>.*` unless `database_prefix` and
    `topic_prefix` say otherwise."""
    return {
        "SVYAZ_NODE__ID": f"bench{run_id}",
        "SVYAZ_NODE__DATA_DIR": str(data_dir),
        "SVYAZ_NODE__SHUTDOWN_GRACE_S": "5",
        "SVYAZ_GATEWAY__PORT": str(gateway_port),
        "SVYAZ_HTTP__PORT": str(http_port),
        "SVYAZ_STORE__URL": store_url,
        "SVYAZ_STORE__DATABASE_PREFIX": database_prefix or f"bench_{run_id}",
        "SVYAZ_KAFKA__BOOTSTRAP_SERVERS": kafka,
        "SVYAZ_KAFKA__TOPIC_PREFIX": topic_prefix or f"bench{run_id}.",
        # Registration and sign-in speed only: the messaging path hashes no password.
        "SVYAZ_IDENTITY__PASSWORD_ITERATIONS": "1000",
        # Every client signs in at the same moment; with the default 300 s they would all refresh at
        # once mid-run, a thundering herd no real population produces.
        "SVYAZ_IDENTITY__ACCESS_LIFETIME_S": "3600",
        "SVYAZ_MESSAGING__SEND_RATE_PER_S": "100000",
        "SVYAZ_MESSAGING__SEND_BURST": "100000",
        "SVYAZ_LOG__LEVEL": "WARNING",
    }


@asynccontextmanager
async def open_node_process(*, store_url: str, kafka: str, profile_to: Path | None = None,
                            trace_to: Path | None = None, extra: Mapping[str, str] | None = None,
                            region: str = "ru", database_prefix: str | None = None,
                            topic_prefix: str | None = None, keep_log: bool = False) -> AsyncIterator[NodeProcess]:
    """Start the node, wait until it is ready and signs people in, yield it; then SIGTERM it and
    drop its databases, topics and consumer groups. `profile_to`: run it under cProfile (its main
    thread); `trace_to`: with the timers of `svyaz.bench.nodetrace`. `database_prefix` and
    `topic_prefix`: names of the caller's choosing (several federated nodes share one topic prefix,
    one MirrorMaker 2 carries), dropped all the same. `keep_log`: keep the node's log even when all
    went well (its data dir, with its keys, goes)."""
    run_id = uuid.uuid4().hex[:8]
    workdir = Path(tempfile.mkdtemp(prefix=f"svyaz-bench-{run_id}-"))
    gateway_port, http_port = free_port(), free_port()
    settings = {**bench_settings(run_id=run_id, store_url=store_url, kafka=kafka, data_dir=workdir / "node",
                                 gateway_port=gateway_port, http_port=http_port, database_prefix=database_prefix,
                                 topic_prefix=topic_prefix), **(extra or {})}
    command = [sys.executable]
    if profile_to is not None:
        command += ["-m", "cProfile", "-o", str(profile_to)]
    command += ["-m", "svyaz.bench.nodetrace", str(trace_to)] if trace_to is not None else ["-m", "svyaz.cli"]
    command += ["node", "serve", "--region", region]
    log_path = workdir / "node.log"
    failed = False
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env={**os.environ, **settings}, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
    try:
        node = NodeProcess(process.pid, f"ws://127.0.0.1:{gateway_port}/", http_port, settings, log_path)
        await _until_ready(process, node)
        await until_signing_in(node.url, region=region)
        yield node
    except BaseException:
        failed = True
        raise
    finally:
        with trio.CancelScope(shield=True):
            code = await _stop(process)
            await trio.to_thread.run_sync(drop_created, store_url, kafka, settings["SVYAZ_STORE__DATABASE_PREFIX"],
                                          settings["SVYAZ_KAFKA__TOPIC_PREFIX"])
            if code not in (0, None) and not failed:
                failed = True
                print(f"warning: the bench node exited with {code}; its log: {log_path}", file=sys.stderr)
            if not failed and not keep_log:
                shutil.rmtree(workdir, ignore_errors=True)
            elif not failed:
                shutil.rmtree(workdir / "node", ignore_errors=True)  # its keys; the log stays
            else:
                print(f"the bench node's log is kept: {log_path}", file=sys.stderr)


async def _until_ready(process: subprocess.Popen, node: NodeProcess) -> None:
    url = f"http://127.0.0.1:{node.http_port}/readyz"
    with trio.move_on_after(READY_TIMEOUT_S):
        while True:
            if process.poll() is not None:
                raise BenchError(f"the bench node exited with {process.returncode} before it was ready:\n"
                                 + _tail(node.log_path))
            if await trio.to_thread.run_sync(_http_ok, url):
                return
            await trio.sleep(0.2)
    raise BenchError(f"the bench node was not ready within {READY_TIMEOUT_S:g} s:\n" + _tail(node.log_path),
                     hint="is the stack up? `svyaz stack status`")


async def until_ready_again(node: NodeProcess, *, timeout_s: float = 300.0) -> None:
    """Until the node's /readyz says 200 again (it says 503 while its store or Kafka lag)."""
    url = f"http://127.0.0.1:{node.http_port}/readyz"
    with trio.fail_after(timeout_s):
        while not await trio.to_thread.run_sync(_http_ok, url):
            await trio.sleep(0.5)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


async def until_signing_in(url: str, *, timeout_s: float = READY_TIMEOUT_S, region: str = "ru") -> None:
    """Sign-in answers `unavailable` until the node has loaded every role assignment."""
    probe = f"@probe{uuid.uuid4().hex[:8]}:{region}"
    async with open_node_client(url) as client:
        await client.call("account.register", account=probe, password=PROBE_PASSWORD)
        with trio.fail_after(timeout_s):
            while True:
                try:
                    await client.call("auth.login", account=probe, password=PROBE_PASSWORD, device="bench-probe")
                    return
                except RemoteError as err:
                    if err.code != "unavailable":
                        raise
                await trio.sleep(0.2)


async def _stop(process: subprocess.Popen) -> int | None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with trio.move_on_after(STOP_TIMEOUT_S):
            while process.poll() is None:
                await trio.sleep(0.1)
        if process.poll() is None:
            process.kill()
            await trio.to_thread.run_sync(process.wait)
            print("warning: the bench node ignored SIGTERM and was killed", file=sys.stderr)
    return process.returncode


def drop_created(store_url: str, kafka: str, database_prefix: str, topic_prefix: str) -> None:
    """Drop the databases `<database_prefix>_*`, the topics `<topic_prefix>*` (and MirrorMaker 2's
    copies of them, `<region>.<topic_prefix>*`) and the consumer groups `<topic_prefix>*`; report,
    never raise."""
    try:
        with MongoClient(store_url, serverSelectionTimeoutMS=5000) as client:
            for name in client.list_database_names():
                if name.startswith(f"{database_prefix}_"):
                    client.drop_database(name)
    except PyMongoError as err:
        print(f"warning: bench databases {database_prefix}_* not dropped: {err}", file=sys.stderr)
    try:
        admin = AdminClient({"bootstrap.servers": kafka})
        topics = [t for t in admin.list_topics(timeout=10).topics if _created_topic(t, topic_prefix)]
        for future in (admin.delete_topics(topics, operation_timeout=30).values() if topics else ()):
            future.result(timeout=30)
        listed = admin.list_consumer_groups(request_timeout=10).result(timeout=15)
        groups = [g.group_id for g in listed.valid if g.group_id.startswith(topic_prefix.rstrip("."))]
        for future in (admin.delete_consumer_groups(groups, request_timeout=10).values() if groups else ()):
            with contextlib.suppress(KafkaException):  # a group still emptying; it expires by itself
                future.result(timeout=15)
    except KafkaException as err:
        print(f"warning: bench topics {topic_prefix}* not all deleted: {err}", file=sys.stderr)


def _created_topic(topic: str, topic_prefix: str) -> bool:
    source, dot, rest = topic.partition(".")
    return topic.startswith(topic_prefix) or (dot != "" and source in KNOWN_REGIONS and rest.startswith(topic_prefix))


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"

