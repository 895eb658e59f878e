"""The auditor's path of docs/audit.md, run as written: export, jq and plain `openssl`, no Svyaz code
in the checking. Recomputes an entry hash and verifies a checkpoint's GOST signature."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from svyaz.compliance.audit.checkpointer import Checkpointer
from svyaz.compliance.audit.store import MongoAuditStore
from svyaz.compliance.audit.keys import ANCHORS_FILE
from svyaz.gost.signing import PUBLIC_KEY_FILE
from tests.integration.compliance.conftest import audit_event

# Characters whose JSON spelling differs between encoders: the canonical form must match jq's.
AWKWARD = {"agent": 'Mozilla/5.0 "quoted" \\ é ж 😀 \t\x01\x7f', "Ünïcode key": "v", "a": ""}


@pytest.fixture
def log(audit_db, keypair):
    store = MongoAuditStore.connect(audit_db.url, audit_db.prefix, timeout_s=5)
    try:
        for n in range(1, 4):
            store.append(audit_event(n, detail=AWKWARD if n == 2 else {"n": str(n)}))
        Checkpointer(store, keypair).checkpoint_now()
    finally:
        store.close()
    return audit_db


def shell(script: str, cwd: Path, audit_db) -> subprocess.CompletedProcess[str]:
    """Run the documented commands, with `svyaz` standing for this checkout's audit CLI."""
    prelude = (
        f'svyaz() {{ "{sys.executable}" -m svyaz.compliance.audit.cli "$@"; }}\n'
        f'STORE="--store-url {audit_db.url} --database-prefix {audit_db.prefix}"\n'
        "set -euo pipefail\n"
    )
    return subprocess.run(
        ["bash", "-c", prelude + script], cwd=cwd, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).parents[3])},
    )


def test_an_entry_hash_recomputes_with_jq_and_openssl(log, tmp_path):
    result = shell(
        """
        svyaz audit export $STORE --from 2 --to 2 > entry.json
        jq -jcS 'del(.hash)' entry.json | openssl dgst -engine gost -md_gost12_256 -r 2>/dev/null \
            | cut -d' ' -f1
        jq -r .hash entry.json
        """,
        tmp_path, log,
    )

    recomputed, stored = result.stdout.split()
    assert result.returncode == 0, result.stderr
    assert recomputed == stored == log.entries.find_one({"seq": 2})["hash"]


def test_a_checkpoint_signature_verifies_with_plain_openssl(log, keypair, tmp_path):
    public_key = keypair.private_key_path.parent / PUBLIC_KEY_FILE
    result = shell(
        f"""
        svyaz audit export $STORE --checkpoints | tail -n 1 > checkpoint.json
        jq -jcS '{{entry_hash, key_id, seq, time}}' checkpoint.json > payload
        jq -j .signature checkpoint.json | base64 -d > signature.bin
        openssl dgst -engine gost -md_gost12_256 -verify {public_key} -signature signature.bin payload
        """,
        tmp_path, log,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Verified OK"
    assert (tmp_path / "payload").read_bytes().startswith(b'{"entry_hash":"')


def test_plain_openssl_rejects_a_checkpoint_whose_seq_was_changed(log, keypair, tmp_path):
    public_key = keypair.private_key_path.parent / PUBLIC_KEY_FILE
    result = shell(
        f"""
        svyaz audit export $STORE --checkpoints | tail -n 1 > checkpoint.json
        jq -jcS '{{entry_hash, key_id, seq: (.seq + 1), time}}' checkpoint.json > payload
        jq -j .signature checkpoint.json | base64 -d > signature.bin
        openssl dgst -engine gost -md_gost12_256 -verify {public_key} -signature signature.bin payload || true
        """,
        tmp_path, log,
    )

    assert result.stdout.strip() == "Verification failure"


def test_the_anchor_file_checks_with_jq_and_openssl(log, keypair, tmp_path):
    key_dir = keypair.private_key_path.parent
    result = shell(
        f"""
        diff <(jq -cS . {key_dir / ANCHORS_FILE} | sort) <(svyaz audit export $STORE --checkpoints | jq -cS . | sort)
        tail -n 1 {key_dir / ANCHORS_FILE} > anchor.json
        jq -jcS '{{entry_hash, key_id, seq, time}}' anchor.json > payload
        jq -j .signature anchor.json | base64 -d > signature.bin
        openssl dgst -engine gost -md_gost12_256 -verify {key_dir / PUBLIC_KEY_FILE} -signature signature.bin payload
        """,
        tmp_path, log,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Verified OK"
