"""`svyaz node serve` as a real process: signals, exit codes, and refusing to start without GOST."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

REPO = Path(__file__).resolve().parents[3]
GRACE_S = 2.0
SERVE = [sys.executable, "-m", "svyaz.cli", "node", "serve", "--region", "ru"]


def serve_command(free_port) -> list[str]:
    """`svyaz node serve` on free ports. Nothing listens at its store and Kafka addresses: these tests
    are about the process, not its dependencies."""
    dependencies = [
        "--store-url",
        f"mongodb://127.0.0.1:{free_port()}/",
        "--kafka",
        f"127.0.0.1:{free_port()}",
    ]
    return [*SERVE, "--gateway-port", "0", "--http-port", "0", *dependencies]


def node_environ(**overrides: str) -> dict[str, str]:
    return {
        **os.environ,
        "SVYAZ_NODE__SHUTDOWN_GRACE_S": str(GRACE_S),
        "SVYAZ_HEALTH__PROBE_INTERVAL_S": "0.2",
        "SVYAZ_STORE__TIMEOUT_S": "0.5",
        "SVYAZ_KAFKA__TIMEOUT_S": "0.5",
        "SVYAZ_LOG__FORMAT": "json",
        "SVYAZ_LOG__LEVEL": "INFO",
        **overrides,
    }


def log_lines(path: Path) -> list[dict]:
    """Every complete line the node wrote so far; each must be one JSON object."""
    text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n")]


async def wait_for_log(path: Path, msg: str) -> dict:
    while True:
        for entry in log_lines(path):
            if entry["msg"] == msg:
                return entry
        await trio.sleep(0.05)


async def test_sigterm_closes_clients_with_1001_and_exits_0_within_the_grace_period(tmp_path, free_port):
    log_path = tmp_path / "node.log"
    with log_path.open("wb") as log:
        process = await trio.lowlevel.open_process(
            serve_command(free_port), stdout=log, stderr=log, env=node_environ(), cwd=REPO
        )
    try:
        with trio.fail_after(30):  # a cold interpreter on a busy 2-core machine
            ready = await wait_for_log(log_path, "node ready")
        assert ready["region"] == "ru" and ready["gateway_port"] > 0 and ready["http_port"] > 0

        async with open_websocket_url(
            f"ws://127.0.0.1:{ready['gateway_port']}/", connect_timeout=5, disconnect_timeout=5
        ) as ws:
            with trio.fail_after(5):
                assert json.loads(await ws.get_message())["type"] == "hello"
            process.send_signal(signal.SIGTERM)
            signalled = trio.current_time()
            with trio.fail_after(GRACE_S), pytest.raises(ConnectionClosed) as closed:
                await ws.get_message()
            assert closed.value.reason.code == 1001

        with trio.fail_after(GRACE_S + 2):
            returncode = await process.wait()
        assert returncode == 0
        assert trio.current_time() - signalled < GRACE_S + 1
        messages = [entry["msg"] for entry in log_lines(log_path)]
        assert messages.count("node ready") == 1
        # Retrying services (the role watcher without Kafka) may log while they stop; the order matters.
        assert messages[-1] == "node stopped"
        assert messages.index("shutting down") > messages.index("node ready")
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def load_gostprov_in_child(environ: dict[str, str]) -> bool:
    """Whether OSSL_PROVIDER_load(NULL, "gostprov") succeeds in a fresh process with `environ`."""
    code = (
        "import ctypes\n"
        "lib = ctypes.CDLL('libcrypto.so.3')\n"
        "lib.OSSL_PROVIDER_load.restype = ctypes.c_void_p\n"
        "lib.OSSL_PROVIDER_load.argtypes = [ctypes.c_void_p, ctypes.c_char_p]\n"
        "print(bool(lib.OSSL_PROVIDER_load(None, b'gostprov')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=environ, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip() == "True"


def test_node_refuses_to_start_without_the_gost_provider(free_port):
    without_gost = node_environ(OPENSSL_MODULES="/nonexistent")
    # The precondition, checked rather than assumed: this variable is what makes OpenSSL fail.
    assert load_gostprov_in_child(node_environ())
    assert not load_gostprov_in_child(without_gost)

    result = subprocess.run(
        serve_command(free_port), env=without_gost, cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "GOST" in result.stderr
    assert "libengine-gost-openssl" in result.stderr
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr
    assert "node ready" not in result.stderr


def test_a_bad_setting_exits_1_naming_the_key_without_a_traceback(free_port):
    result = subprocess.run(
        serve_command(free_port),
        env=node_environ(SVYAZ_HEALTH__PROBE_INTERVAL_S="fast"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr == (
        "error: health.probe_interval_s: expected a positive number of seconds, got 'fast' "
        "(from SVYAZ_HEALTH__PROBE_INTERVAL_S)\n"
    )
