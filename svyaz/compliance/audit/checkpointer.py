"""Making a checkpoint: verify what is new since the last genuine checkpoint, then sign the head,
store it, and append it to the anchor file outside the database.

Signing blindly would bless tampering: someone who rewrote the latest entries would only have to
wait for the next checkpoint. So the segment since the last checkpoint is verified first, starting
from that checkpoint's signed hash, and nothing is signed if it does not hold. The key is the one in
the key dir at signing time (see `signer`), so a rotation reaches a running node. Blocking.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from svyaz.compliance.audit.anchor_file import append_anchor
from svyaz.compliance.audit.chain import format_time
from svyaz.compliance.audit.checkpoint import (
    Checkpoint,
    MalformedCheckpoint,
    checkpoint_payload,
    parse_checkpoint,
)
from svyaz.compliance.audit.keys import ANCHORS_FILE
from svyaz.compliance.audit.signer import Signer, signing_keys
from svyaz.compliance.audit.store import MongoAuditStore
from svyaz.compliance.audit.verify import Anchor, SignatureCheck, verify_log
from svyaz.errors import SvyazError

_HINT = "run `svyaz audit verify` for the first bad position; do not sign over it"


class AuditTampered(SvyazError):
    """The stored chain does not verify, so no checkpoint was signed over it."""

    code = "audit_tampered"


class Checkpointer:
    """Signs with `signer`, or with whatever key later replaces it in its key dir.

    `anchors`: the anchor file; by default `anchors.jsonl` in the signer's key dir (none for a
    signer that has no key dir). `check_signature`: which earlier checkpoints may start the check;
    by default the key dir's current and retired keys (just the signer's for one without a dir).
    """

    def __init__(
        self,
        store: MongoAuditStore,
        signer: Signer,
        *,
        check_signature: SignatureCheck | None = None,
        anchors: Path | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._keys = signing_keys(signer)
        self._check_signature = check_signature
        key_dir = self._keys.key_dir
        self._anchors = anchors or (key_dir / ANCHORS_FILE if key_dir is not None else None)
        self._clock = clock

    def checkpoint_now(self) -> Checkpoint | None:
        """Sign the current head; None if there is nothing new or another process signed it first.

        Raises AuditTampered if the entries since the last checkpoint do not verify, AuditUnavailable
        if the store cannot be reached, and AnchorFileError if the checkpoint was stored but could
        not be anchored.
        """
        key = self._keys.current()
        # Only this node's own earlier checkpoints are trusted as the starting point.
        check_signature = self._check_signature or self._keys.trusted()
        anchor = self._anchor(check_signature)
        head = self._store.head_seq()
        if head is None:
            return None
        if anchor is not None and head <= anchor.seq:
            if head < anchor.seq:
                raise AuditTampered(
                    f"the audit chain ends at seq {head}, before its signed checkpoint at seq {anchor.seq}",
                    hint=_HINT,
                )
            return None
        first = anchor.seq + 1 if anchor else 1
        report = verify_log(
            self._store.iter_entries(first, head),
            check_signature=check_signature,
            locate=self._store.locate,
            anchor=anchor,
        )
        if not report.ok:
            raise AuditTampered(f"refusing to sign the audit chain: {report.summary()}", hint=_HINT)
        seq, entry_hash, key_id = report.last_seq, report.last_hash, key.key_id
        time = format_time(self._clock())
        signature = key.sign(checkpoint_payload(seq, entry_hash, time, key_id))
        checkpoint = Checkpoint(seq, entry_hash, time, key_id, signature)
        if not self._store.insert_checkpoint(checkpoint):
            return None  # another process signed this head; it anchors it
        if self._anchors is not None:
            append_anchor(self._anchors, checkpoint)
        return checkpoint

    def _anchor(self, check_signature: SignatureCheck) -> Anchor | None:
        document = self._store.latest_checkpoint()
        if document is None:
            return None
        try:
            checkpoint = parse_checkpoint(document)
        except MalformedCheckpoint as err:
            raise AuditTampered(f"the latest audit checkpoint is malformed: {err}", hint=_HINT) from err
        if (why := check_signature(checkpoint)) is not None:
            raise AuditTampered(
                f"the latest audit checkpoint (seq {checkpoint.seq}) is not genuine: {why}", hint=_HINT
            )
        return Anchor(checkpoint.seq, checkpoint.entry_hash)
