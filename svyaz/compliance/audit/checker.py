"""Verifying the audit log as stored: stream the store into the pure verifier (blocking)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from svyaz.compliance.audit.anchor_file import read_anchors
from svyaz.compliance.audit.anchors import check_anchors
from svyaz.compliance.audit.store import DEFAULT_BATCH, MongoAuditStore
from svyaz.compliance.audit.verify import Report, SignatureCheck, verify_log


def verify_store(
    store: MongoAuditStore,
    check_signature: SignatureCheck,
    *,
    batch: int = DEFAULT_BATCH,
    anchors: Path | None = None,
) -> Report:
    """Walk the whole chain by seq ranges and check every checkpoint; stops at the first bad position.
    Then, if the log holds and there is an `anchors` file, check that every checkpoint anchored
    there is still stored, unchanged, and within the chain.

    Appends that land while this runs are not looked at: the walk ends at the head read at the start.
    The anchor file is read first and the latest checkpoint before that head, so a checkpoint signed
    (and anchored) meanwhile, for entries newer than the head, cannot pass for a sign of truncation.
    """
    lines = read_anchors(anchors) if anchors is not None else None
    latest = store.latest_checkpoint()
    head = store.head_seq() or 0

    def stored() -> Iterable[dict]:
        return store.iter_checkpoints(latest["seq"], batch=batch) if latest is not None else ()

    report = verify_log(
        store.iter_entries(1, head, batch=batch, below=True),
        stored(),
        check_signature=check_signature,
        locate=store.locate,
        stray_entries=store.stray_entries(),
        stray_checkpoints=store.stray_checkpoints(),
    )
    if lines is None or not report.ok:
        return report
    # The walk found every stored checkpoint genuine, so an anchor equal to one needs no signature
    # check of its own: only the anchors that disagree with the database cost an openssl call.
    checked = check_anchors(lines, stored(), head=head, check_signature=check_signature, source=str(anchors))
    return replace(report, anchors=checked.lines, finding=checked.finding)
