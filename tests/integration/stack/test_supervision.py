"""How `svyaz stack` starts and stops daemons, with real processes (no Kafka needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from svyaz.errors import SvyazError
from svyaz.stack.manager import Stack
from svyaz.stack.process import ProcessRecord, is_running
from svyaz.stack.services import Service


class ScriptService(Service):
    """A stand-in daemon: a Python one-liner, healthy once it has written a file."""

    start_timeout_s = 10.0

    def __init__(self, name: str, home: Path, code: str, port: int | None = None) -> None:
        self.name, self.home, self.code, self.port = name, home, code, port

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)

    def argv(self) -> list[str]:
        return [sys.executable, "-c", self.code]

    def health(self) -> tuple[bool, str]:
        ready = (self.home / "ready").exists()
        return ready, "ready file written" if ready else "waiting"


SLEEPER = "import pathlib, time; pathlib.Path('ready').touch(); time.sleep(600)"


def test_a_daemon_that_dies_at_start_is_reported_with_its_log(tmp_path):
    stack = Stack(tmp_path, progress=lambda _: None)
    crasher = ScriptService("xx/crasher", tmp_path / "xx" / "crasher",
                            "import sys; print('bad setting: listen.port'); sys.exit(3)")

    with pytest.raises(SvyazError, match="exited during start-up") as caught:
        stack.start_services([crasher])

    assert "bad setting: listen.port" in str(caught.value)
    assert "svyaz stack logs xx crasher" in caught.value.hint


def test_up_is_idempotent_and_down_stops_exactly_what_up_started(tmp_path):
    stack = Stack(tmp_path, progress=lambda _: None)
    daemon = ScriptService("xx/sleeper", tmp_path / "xx" / "sleeper", SLEEPER)
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        stack.start_services([daemon])
        first = stack.table.load()["xx/sleeper"]
        stack.start_services([daemon])  # second `up`: nothing new is started
        assert stack.table.load()["xx/sleeper"] == first

        stopped = stack.down()

        assert stopped == ["xx/sleeper"]
        assert not is_running(first)
        assert stranger.poll() is None, "down must not touch processes it did not start"
        assert stack.table.load() == {}
    finally:
        stranger.kill()
        stranger.wait()


def test_a_recorded_pid_reused_by_another_process_is_left_alone(tmp_path):
    stack = Stack(tmp_path, progress=lambda _: None)
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        # A stale record: same pid, but a different start time than the process now holding it.
        stack.table.put(ProcessRecord(service="xx/old", pid=stranger.pid, start_ticks=1, argv=[], log=""))

        assert stack.down() == []
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def test_a_busy_port_is_named_with_the_fix(tmp_path):
    import socket

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        service = ScriptService("xx/web", tmp_path / "xx" / "web", SLEEPER, port=port)

        with pytest.raises(SvyazError, match=f"port {port} is already in use") as caught:
            Stack(tmp_path, progress=lambda _: None).start_services([service])

    assert "ss -ltnp" in caught.value.hint


def test_a_service_killed_alone_stays_recorded_and_starts_again(tmp_path):
    stack = Stack(tmp_path, progress=lambda _: None)
    daemon = ScriptService("xx/sleeper", tmp_path / "xx" / "sleeper", SLEEPER)
    other = ScriptService("xx/other", tmp_path / "xx" / "other", SLEEPER)
    try:
        stack.start_services([daemon, other])
        killed, kept = stack.table.load()["xx/sleeper"], stack.table.load()["xx/other"]

        assert stack.stop_service("xx/sleeper", crash=True) is True

        assert not is_running(killed) and is_running(kept)
        assert stack.table.load()["xx/sleeper"] == killed  # still the stack's: `status` shows it stopped
        stack.start_services([daemon])  # what `start_service` does, for a service of the stack's own kinds
        assert is_running(stack.table.load()["xx/sleeper"])
        assert stack.stop_service("xx/sleeper") is True and stack.stop_service("xx/sleeper") is False
    finally:
        stack.down()


def test_a_service_whose_port_was_taken_for_a_moment_is_started_again(tmp_path):
    stack = Stack(tmp_path, progress=lambda _: None)
    # Fails to bind at its first start, as kz's Kafka did when a client's outgoing connection had
    # been given its port, then starts: the second start finds the marker its first one left.
    flaky = ScriptService("xx/flaky", tmp_path / "xx" / "flaky", (
        "import pathlib, sys, time\n"
        "if not pathlib.Path('tried').exists():\n"
        "    pathlib.Path('tried').touch(); print('java.net.BindException: Address already in use'); sys.exit(1)\n"
        "pathlib.Path('ready').touch(); time.sleep(600)"))
    crasher = ScriptService("xx/crasher", tmp_path / "xx" / "crasher", "import sys; print('bad setting'); sys.exit(3)")
    try:
        stack.start_one(flaky)
        assert is_running(stack.table.load()["xx/flaky"])
        with pytest.raises(SvyazError, match="exited during start-up"):
            stack.start_one(crasher)  # any other failure at start is not retried
    finally:
        stack.down()


def test_a_restart_waits_for_a_socket_that_still_holds_the_port(tmp_path):
    import socket
    import threading
    import time

    holder = socket.socket()  # bound, not listening: like an outgoing connection given that port
    holder.bind(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    threading.Timer(1.5, holder.close).start()
    stack = Stack(tmp_path, progress=lambda _: None)
    service = ScriptService("xx/web", tmp_path / "xx" / "web", SLEEPER, port=port)
    try:
        began = time.monotonic()
        stack.start_one(service)

        assert time.monotonic() - began >= 1.4
        assert is_running(stack.table.load()["xx/web"])
    finally:
        stack.down()
