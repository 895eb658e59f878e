"""Audit logs in a database of each test's own on the shared stack's ru FerretDB, real GOST keys
made by OpenSSL, and the audit CLI run as a separate process like an auditor would."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from svyaz.compliance.audit.checkpointer import Checkpointer
from svyaz.compliance.audit.event import AuditEvent
from svyaz.compliance.audit.store import MongoAuditStore, database_name
from svyaz.gost import load_gost_provider
from svyaz.gost.signing import PUBLIC_KEY_FILE, GostKeyPair, generate_keypair

REGION = "ru"


@pytest.fixture(scope="session", autouse=True)
def gost():
    load_gost_provider()


@dataclass(frozen=True)
class AuditDatabase:
    url: str
    prefix: str
    db: Database  # direct access, as a tamperer has

    @property
    def entries(self):
        return self.db["audit"]

    @property
    def checkpoints(self):
        return self.db["audit_checkpoints"]


@pytest.fixture
def audit_db(stack, test_id):
    url = stack.mongo(REGION)
    client = MongoClient(url, serverSelectionTimeoutMS=5000)
    yield AuditDatabase(url, test_id, client[database_name(test_id)])
    client.drop_database(database_name(test_id))
    client.close()


@pytest.fixture
def keypair(tmp_path) -> GostKeyPair:
    return generate_keypair(tmp_path / "audit")


def audit_event(n: int, **changes) -> AuditEvent:
    fields = dict(
        actor=f"@user{n}:ru", role="user", action="auth.login", target="-", region=REGION,
        request_id=f"req-{n}", outcome="success", detail={"address": f"10.0.0.{n % 250}"},
    )
    return AuditEvent(**{**fields, **changes})


def populate(audit_db: AuditDatabase, keypair: GostKeyPair, count: int = 10, *, every: int = 5) -> None:
    """`count` entries through the real store, with a signed checkpoint every `every` entries."""
    store = MongoAuditStore.connect(audit_db.url, audit_db.prefix, timeout_s=5)
    try:
        checkpointer = Checkpointer(store, keypair)
        for n in range(1, count + 1):
            entry = store.append(audit_event(n))
            if entry.seq % every == 0:
                assert checkpointer.checkpoint_now() is not None
    finally:
        store.close()


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict:
        return json.loads(self.stdout)


def run_audit_cli(*arguments: str, cwd: Path | None = None) -> CliResult:
    """`svyaz audit ...` as its own process (the module entry point, the same parser).

    In an empty state dir of its own: the defaults (key dir, anchor file) never reach the
    developer's `.svyaz/`, where a node may have left keys and anchors of another database.
    """
    with tempfile.TemporaryDirectory(prefix="svyaz-state-") as state:
        result = subprocess.run(
            [sys.executable, "-m", "svyaz.compliance.audit.cli", "audit", *arguments],
            capture_output=True, text=True, timeout=120, cwd=cwd,
            env={**os.environ, "SVYAZ_STATE_DIR": state},
        )
    return CliResult(result.returncode, result.stdout, result.stderr)


def store_options(audit_db: AuditDatabase) -> tuple[str, ...]:
    return ("--region", REGION, "--store-url", audit_db.url, "--database-prefix", audit_db.prefix)


def verify_cli(audit_db: AuditDatabase, keypair: GostKeyPair, *extra: str) -> CliResult:
    return run_audit_cli(
        "verify", "--region", REGION, "--store-url", audit_db.url, "--database-prefix", audit_db.prefix,
        "--public-key", str(keypair.private_key_path.parent / PUBLIC_KEY_FILE), *extra,
    )


def free_port() -> int:
    """A loopback port nothing listens on right now (so connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
