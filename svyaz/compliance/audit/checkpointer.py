"""Making a checkpoint: verify what is new since the last genuine checkpoint, then sign the head.

Signing blindly would bless tampering: someone who rewrote the latest entries would only have to
wait for the next checkpoint. So the segment since the last checkpoint is verified first, starting
from that checkpoint's signed hash, and nothing is signed if it does not hold. Blocking.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from svyaz.compliance.audit.chain import format_time
from svyaz.compliance.audit.checkpoint import (
    Checkpoint,
    MalformedCheckpoint,
    checkpoint_payload,
    parse_checkpoint,
)
from svyaz.compliance.audit.keys import PublicKeys
from svyaz.compliance.audit.store import MongoAuditStore
from svyaz.compliance.audit.verify import Anchor, SignatureCheck, verify_log
from svyaz.errors import SvyazError

_HINT = "run `svyaz audit verify` for the first bad position; do not sign over it"


class Signer(Protocol):
    """The node's key (`svyaz.gost.signing.GostKeyPair`)."""

    @property
    def key_id(self) -> str: ...

    @property
    def public_pem(self) -> bytes: ...

    def sign(self, data: bytes) -> bytes: ...


class AuditTampered(SvyazError):
    """The stored chain does not verify, so no checkpoint was signed over it."""

    code = "audit_tampered"


class Checkpointer:
    def __init__(
        self,
        store: MongoAuditStore,
        signer: Signer,
        *,
        check_signature: SignatureCheck | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._signer = signer
        # Only this node's own earlier checkpoints are trusted as the starting point.
        self._check_signature = check_signature or PublicKeys(pems=[signer.public_pem])
        self._clock = clock

    def checkpoint_now(self) -> Checkpoint | None:
        """Sign the current head; None if there is nothing new or another process signed it first.

        Raises AuditTampered if the entries since the last checkpoint do not verify, and
        AuditUnavailable if the store cannot be reached.
        """
        anchor = self._anchor()
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
            check_signature=self._check_signature,
            locate=self._store.locate,
            anchor=anchor,
        )
        if not report.ok:
            raise AuditTampered(f"refusing to sign the audit chain: {report.summary()}", hint=_HINT)
        seq, entry_hash, key_id = report.last_seq, report.last_hash, self._signer.key_id
        time = format_time(self._clock())
        signature = self._signer.sign(checkpoint_payload(seq, entry_hash, time, key_id))
        checkpoint = Checkpoint(seq, entry_hash, time, key_id, signature)
        return checkpoint if self._store.insert_checkpoint(checkpoint) else None

    def _anchor(self) -> Anchor | None:
        document = self._store.latest_checkpoint()
        if document is None:
            return None
        try:
            checkpoint = parse_checkpoint(document)
        except MalformedCheckpoint as err:
            raise AuditTampered(f"the latest audit checkpoint is malformed: {err}", hint=_HINT) from err
        if (why := self._check_signature(checkpoint)) is not None:
            raise AuditTampered(
                f"the latest audit checkpoint (seq {checkpoint.seq}) is not genuine: {why}", hint=_HINT
            )
        return Anchor(checkpoint.seq, checkpoint.entry_hash)
