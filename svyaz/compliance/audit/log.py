"""`AuditLog`: the `AuditSink` the rest of the node records through, on trio.

Appends and checkpoints run in worker threads behind one CapacityLimiter (pymongo and openssl
block). Any failure to append raises AuditUnavailable, so privileged actions fail closed. A failed
checkpoint does not fail the append that triggered it (the entry is already durable): it is logged,
and the next trigger tries again.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import trio

from svyaz.compliance.audit.chain import check_event
from svyaz.compliance.audit.checkpoint import Checkpoint, CheckpointPolicy
from svyaz.compliance.audit.checkpointer import AuditTampered, Checkpointer
from svyaz.compliance.audit.event import AuditEvent, AuditUnavailable
from svyaz.compliance.audit.signer import Signer
from svyaz.compliance.audit.store import MongoAuditStore
from svyaz.errors import SvyazError

logger = logging.getLogger("svyaz.audit")
DEFAULT_POLICY = CheckpointPolicy()  # every 1000 entries and every 300 s


class AuditLog:
    def __init__(
        self,
        store: MongoAuditStore,
        *,
        limiter: trio.CapacityLimiter,
        checkpointer: Checkpointer | None = None,
        policy: CheckpointPolicy = DEFAULT_POLICY,
    ) -> None:
        self._store = store
        self._limiter = limiter
        self._checkpointer = checkpointer
        self._policy = policy

    async def record(self, event: AuditEvent) -> None:
        """Append `event` to the chain; AuditUnavailable if it cannot be made durable."""
        try:
            check_event(event)
        except ValueError as err:
            raise AuditUnavailable(f"audit event cannot be recorded: {err}") from err
        await trio.to_thread.run_sync(self._append, event, limiter=self._limiter)

    async def checkpoint(self) -> Checkpoint | None:
        """Sign the current head now (on demand); None if nothing is new since the last checkpoint.

        Raises AuditTampered if the entries since the last checkpoint do not verify.
        """
        if self._checkpointer is None:
            raise SvyazError("this audit log has no signing key, so it cannot checkpoint")
        return await trio.to_thread.run_sync(self._checkpointer.checkpoint_now, limiter=self._limiter)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Checkpoint every `policy.every_seconds` while entries keep coming; never returns."""
        task_status.started()
        if self._checkpointer is None or self._policy.every_seconds is None:
            await trio.sleep_forever()
        while True:
            await trio.sleep(self._policy.every_seconds)
            await self._checkpoint_logging_failures()

    def _append(self, event: AuditEvent) -> None:
        entry = self._store.append(event)
        if self._checkpointer is not None and self._policy.due_after_append(entry.seq):
            try:
                self._checkpointer.checkpoint_now()
            except AuditTampered as err:
                logger.error("audit checkpoint refused at seq %d: %s", entry.seq, err)
            except SvyazError as err:
                logger.warning("audit checkpoint at seq %d failed: %s", entry.seq, err)

    async def _checkpoint_logging_failures(self) -> None:
        try:
            await self.checkpoint()
        except AuditTampered as err:
            logger.error("audit checkpoint refused: %s", err)
        except SvyazError as err:
            logger.warning("timed audit checkpoint failed: %s", err)


@asynccontextmanager
async def open_audit_log(
    url: str,
    database_prefix: str,
    *,
    signer: Signer | None = None,
    policy: CheckpointPolicy = DEFAULT_POLICY,
    anchors: Path | None = None,
    timeout_s: float = 2.0,
    max_threads: int = 4,
) -> AsyncIterator[AuditLog]:
    """An AuditLog on `<database_prefix>_compliance` at `url`, with timed checkpoints running while
    the block runs (if there is a `signer`). The client is closed on exit, within `timeout_s`.

    A `signer` loaded from a key dir is followed there (a rotated key is used from the next
    checkpoint on), and checkpoints are anchored in `anchors` (default: `anchors.jsonl` in that
    key dir)."""
    limiter = trio.CapacityLimiter(max_threads)
    # A thread: a mongodb+srv:// URL makes the client constructor resolve DNS.
    connect = partial(MongoAuditStore.connect, url, database_prefix, timeout_s=timeout_s)
    store = await trio.to_thread.run_sync(connect, limiter=limiter)
    try:
        checkpointer = Checkpointer(store, signer, anchors=anchors) if signer is not None else None
        log = AuditLog(store, limiter=limiter, checkpointer=checkpointer, policy=policy)
        async with trio.open_nursery() as nursery:
            await nursery.start(log.run)
            yield log
            nursery.cancel_scope.cancel()
    finally:
        # close() ends server sessions, which waits for a server that may be gone: bound it, and
        # shield it so a cancelled caller still releases its sockets.
        with trio.move_on_after(timeout_s, shield=True):
            await trio.to_thread.run_sync(store.close, abandon_on_cancel=True)
