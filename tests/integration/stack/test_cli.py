"""`svyaz stack` as an operator runs it: real subprocesses, real stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SVYAZ = [sys.executable, "-m", "svyaz.cli"]


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*SVYAZ, *args], capture_output=True, text=True, timeout=300,
                          env=env or os.environ.copy(), cwd=cwd)


def test_status_json_lists_every_service_healthy_with_pid_and_port(stack):
    result = run("stack", "status", "--json")

    report = json.loads(result.stdout)
    services = {s["service"]: s for s in report["services"]}
    expected = {f"{r}/{kind}" for r in stack.regions for kind in ("kafka", "ferretdb")} | {"mirrormaker"}
    assert result.returncode == 0, result.stdout + result.stderr
    assert expected <= set(services)
    for name in expected:
        assert services[name]["healthy"], services[name]
        assert services[name]["pid"] > 0 and services[name]["rss_kib"] > 0
    assert services["ru/kafka"]["port"] == stack.ports("ru").kafka
    assert services["kz/ferretdb"]["port"] == stack.ports("kz").ferretdb


def test_a_second_up_changes_nothing(stack):
    before = json.loads(run("stack", "status", "--json").stdout)

    result = run("stack", "up", "--regions", ",".join(stack.regions))

    after = json.loads(run("stack", "status", "--json").stdout)
    assert result.returncode == 0, result.stderr
    assert "already running" in result.stdout
    assert [s["pid"] for s in after["services"]] == [s["pid"] for s in before["services"]]


def test_missing_java_is_reported_with_the_fix_and_no_traceback(tmp_path):
    env = {**os.environ, "PATH": str(Path(sys.executable).parent), "SVYAZ_STATE_DIR": str(tmp_path)}

    result = run("stack", "up", "--regions", "ru", env=env)

    assert result.returncode == 1
    assert "error: Java not found" in result.stderr
    assert "fix: apt-get install openjdk-17" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_busy_port_stops_up_before_anything_starts(stack, tmp_path):
    # A second stack in another state dir collides with the running one's fixed ports.
    env = {**os.environ, "SVYAZ_STATE_DIR": str(tmp_path)}

    result = run("stack", "up", "--regions", "ru", env=env)

    assert result.returncode == 1
    assert f"port {stack.ports('ru').kafka} is already in use" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "processes.json").exists() or json.loads((tmp_path / "processes.json").read_text()) == {}


def test_logs_shows_a_service_log_and_names_unknown_ones(stack):
    shown = run("stack", "logs", "ru", "kafka", "-n", "100000")
    unknown = run("stack", "logs", "ru", "nosuch")

    assert shown.returncode == 0
    assert "svyaz: starting ru/kafka" in shown.stdout
    assert unknown.returncode == 1
    assert "no log for 'ru nosuch'" in unknown.stderr
