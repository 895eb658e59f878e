"""Verifying the audit log as stored: stream the store into the pure verifier (blocking)."""

from __future__ import annotations

from svyaz.compliance.audit.store import DEFAULT_BATCH, MongoAuditStore
from svyaz.compliance.audit.verify import Report, SignatureCheck, verify_log


def verify_store(
    store: MongoAuditStore, check_signature: SignatureCheck, *, batch: int = DEFAULT_BATCH
) -> Report:
    """Walk the whole chain by seq ranges and check every checkpoint; stops at the first bad position.

    Appends that land while this runs are not looked at: the walk ends at the head read at the start.
    The latest checkpoint is read before that head, so a checkpoint signed meanwhile (for entries
    newer than the head) cannot pass for a sign of truncation.
    """
    latest = store.latest_checkpoint()
    head = store.head_seq() or 0
    return verify_log(
        store.iter_entries(1, head, batch=batch, below=True),
        store.iter_checkpoints(latest["seq"], batch=batch) if latest is not None else (),
        check_signature=check_signature,
        locate=store.locate,
        stray_entries=store.stray_entries(),
        stray_checkpoints=store.stray_checkpoints(),
    )
