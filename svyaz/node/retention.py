"""The node's scheduled retention purge (`[retention]`, docs/node.md; docs/compliance.md,
"Retention and legal hold").

At start-up the region's table of `<rbac.policy_dir>/retention.toml` is read and checked: a file
that is missing or wrong stops the node with the reason (running the wrong retention silently is
worse than not starting), unless `retention.enabled = false`.

Runs are aligned to multiples of `retention.purge_interval_s` since the epoch (daily: at 00:00 UTC),
the first one at the first boundary after start. Every process of a node wakes then; the one that
claims the slot (an insert against a unique id in `<prefix>_compliance.retention_runs`) purges and
the others go back to sleep. A run that fails (store down, legal holds unreadable) gives its slot
back and is tried again after `RETRY_S`; what it already did stays done.
"""

from __future__ import annotations

import getpass
import logging
import time
import tomllib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import trio
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from svyaz.compliance.audit.event import AuditSink, AuditUnavailable
from svyaz.compliance.lawful.purge import PurgeReport, claim_slot, release_slot, run_purge
from svyaz.compliance.lawful.retention import RetentionPolicy, RetentionPolicyError, parse_retention
from svyaz.compliance.lawful.store import MongoLawfulStore
from svyaz.errors import SvyazError
from svyaz.node.config import NodeConfig

logger = logging.getLogger("svyaz.node.retention")

POLICY_FILE = "retention.toml"
RETRY_S = 60.0


def load_retention_policy(policy_dir: Path, region: str) -> RetentionPolicy:
    path = policy_dir / POLICY_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RetentionPolicyError(f"{path}: not found", hint="add the region's retention table (see the "
                                   "repository's policies/retention.toml), or set retention.enabled = false") from None
    except OSError as err:
        raise RetentionPolicyError(f"{path}: cannot be read ({err.strerror})") from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise RetentionPolicyError(f"{path}: not valid TOML ({err})") from None
    return parse_retention(table, region, source=str(path))


@asynccontextmanager
async def open_store_client(config: NodeConfig, limiter: trio.CapacityLimiter) -> AsyncIterator[MongoClient]:
    """A client of the node's store for the purge alone (a daily walk: its own small pool)."""
    timeout_ms = int(config.store.timeout_s * 1000)
    client = await trio.to_thread.run_sync(partial(
        MongoClient, config.store.url, appname="svyaz-retention", serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms, socketTimeoutMS=max(timeout_ms, 30_000)), limiter=limiter, abandon_on_cancel=True)
    try:
        yield client
    finally:
        with trio.move_on_after(config.store.timeout_s, shield=True):
            await trio.to_thread.run_sync(client.close, abandon_on_cancel=True)


class RetentionSchedule:
    def __init__(self, config: NodeConfig, policy: RetentionPolicy, client: MongoClient, audit: AuditSink, *,
                 limiter: trio.CapacityLimiter, clock: Callable[[], float] = time.time) -> None:
        self._config = config
        self._policy = policy
        self._client = client
        self._audit = audit
        self._limiter = limiter
        self._clock = clock
        self._holds = MongoLawfulStore(client[f"{config.store.database_prefix}_compliance"], limiter)
        self.last_report: PurgeReport | None = None

    @property
    def interval_s(self) -> float:
        return self._config.retention.purge_interval_s

    async def run(self) -> None:
        """Purge at every slot boundary, until cancelled."""
        while True:
            now = self._clock()
            await trio.sleep(max(0.0, (now // self.interval_s + 1) * self.interval_s - now))
            slot = int(self._clock() // self.interval_s)
            while not await self.run_slot(slot):
                await trio.sleep(min(RETRY_S, self.interval_s))
                if int(self._clock() // self.interval_s) != slot:
                    break   # the next slot's run catches up

    async def run_slot(self, slot: int) -> bool:
        """Run the purge of `slot` if this process claims it; False if it should be tried again."""
        prefix, region = self._config.store.database_prefix, self._config.region
        try:
            claimed = await trio.to_thread.run_sync(partial(claim_slot, self._client, prefix, region, slot,
                                                            now=self._clock()), limiter=self._limiter)
        except PyMongoError as err:
            logger.warning("retention purge not started: the store did not answer",
                           extra={"error": str(err).split(", Timeout:")[0]})
            return False
        if not claimed:
            return True
        try:
            self.last_report = await run_purge(
                self._client, prefix, self._policy, self._holds, self._audit, actor=f"node:{self._config.node.id}",
                role="none", request_id=f"retention-{slot}", limiter=self._limiter, now=self._clock())
        except AuditUnavailable as err:
            # The purge ran; only its audit entry is missing. The counts go to the log instead.
            logger.error("retention purge done but not audited", extra={"error": str(err)})
            return True
        except SvyazError as err:
            logger.warning("retention purge failed; trying again", extra={"error": str(err), "retry_s": RETRY_S})
            try:
                await trio.to_thread.run_sync(release_slot, self._client, prefix, region, slot, limiter=self._limiter)
            except PyMongoError:
                pass  # the slot stays claimed: the next slot's run catches up
            return False
        return True


async def serve_retention(config: NodeConfig, audit: AuditSink, *,
                          task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """The node's purge task: checks the policy, reports started, then purges on schedule. With
    `retention.enabled = false` it only reports started."""
    if not config.retention.enabled:
        task_status.started()
        return
    policy = await trio.to_thread.run_sync(load_retention_policy, Path(config.rbac.policy_dir), config.region)
    limiter = trio.CapacityLimiter(2)
    async with open_store_client(config, limiter) as client:
        schedule = RetentionSchedule(config, policy, client, audit, limiter=limiter)
        logger.info("retention purge scheduled", extra={
            "region": config.region, "content_days": policy.content_days, "metadata_days": policy.metadata_days,
            "interval_s": schedule.interval_s})
        task_status.started()
        await schedule.run()


async def purge_once(config: NodeConfig, *, dry_run: bool, now: float | None = None) -> PurgeReport:
    """`svyaz lawful purge`: one purge now (tests pass another `now`), by the operator, audited as
    the operator's act."""
    from svyaz.compliance.audit.log import open_audit_log
    from svyaz.gost import load_gost_provider
    from svyaz.gost.signing import load_or_generate_keypair

    load_gost_provider()
    policy = await trio.to_thread.run_sync(load_retention_policy, Path(config.rbac.policy_dir), config.region)
    store = config.store
    signer = await trio.to_thread.run_sync(load_or_generate_keypair, config.data_path / "audit")
    limiter = trio.CapacityLimiter(2)
    try:
        async with (
            open_audit_log(store.url, store.database_prefix, signer=signer, timeout_s=store.timeout_s) as audit,
            open_store_client(config, limiter) as client,
        ):
            holds = MongoLawfulStore(client[f"{store.database_prefix}_compliance"], limiter)
            return await run_purge(client, store.database_prefix, policy, holds, audit,
                                   actor=f"operator:{getpass.getuser()}", role="operator",
                                   request_id=f"purge-cli-{uuid.uuid4().hex[:12]}", dry_run=dry_run,
                                   limiter=limiter, now=now)
    except BaseExceptionGroup as group:
        # The audit log's nursery wraps what the purge raised: the CLI prints a lone SvyazError plainly.
        leaves = group.exceptions
        if len(leaves) == 1 and isinstance(leaves[0], SvyazError):
            raise leaves[0] from leaves[0].__cause__
        raise
