"""Role changes reach every process of a node: two processes, each with its own enforcer and
watcher, over the real ru FerretDB and Kafka.

The bound asserted here (PROPAGATION_BOUND_S) is generous for a loaded CI machine; the figures
measured are printed (`-s`) and recorded in docs/rbac.md.
"""

from __future__ import annotations

import socket
import statistics

import pytest
import trio

from svyaz.rbac.assignment import RoleAssignment
from svyaz.rbac.changes import RoleChange
from svyaz.rbac.errors import Forbidden
from svyaz.rbac.index import RoleIndex
from svyaz.rbac.loader import RoleLoader
from svyaz.rbac.principal import Principal
from svyaz.rbac.watcher import RoleWatcher
from tests.integration.kafkatools import produce

PROPAGATION_BOUND_S = 2.0
ROUNDS = 10
ROOT = Principal.account("@root:ru", second_factor=True)
BOB = Principal.account("@bob:ru", second_factor=True)  # an auditor below, which needs it


async def wait_until(predicate, bound_s: float = PROPAGATION_BOUND_S, *, since: float | None = None) -> float:
    """Seconds from `since` (default: now) until `predicate()` held, polled every 2 ms; fails the
    test if that takes more than `bound_s` from now."""
    started = trio.current_time() if since is None else since
    with trio.fail_after(bound_s):
        while not predicate():
            await trio.sleep(0.002)
    return trio.current_time() - started


async def test_a_grant_through_one_process_is_allowed_by_the_other_then_revoked(seeded, open_process):
    async with open_process() as first, open_process() as second:
        assert first.watcher.group_id != second.watcher.group_id
        with pytest.raises(Forbidden):
            await second.guard.check(BOB, "moderation.review", "ru", request_id="before")

        grants, revokes = [], []
        for round_ in range(ROUNDS):
            # Measured from the admin's request, so the store write and the Kafka round trip count.
            requested = trio.current_time()
            await first.admin.grant(ROOT, account="@bob:ru", role="moderator", region="ru", request_id=f"g{round_}")
            # The granting process applies the change before grant() returns.
            assert first.guard.role_for(BOB, "moderation.review", "ru") == "moderator"
            grants.append(await wait_until(lambda: second.guard.role_for(BOB, "moderation.review", "ru"),
                                           since=requested))
            await second.guard.check(BOB, "moderation.review", "ru", request_id=f"after-grant{round_}")

            requested = trio.current_time()
            await first.admin.revoke(ROOT, account="@bob:ru", role="moderator", region="ru", request_id=f"r{round_}")
            revokes.append(await wait_until(lambda: not second.guard.role_for(BOB, "moderation.review", "ru"),
                                            since=requested))
            with pytest.raises(Forbidden):
                await second.guard.check(BOB, "moderation.review", "ru", request_id=f"after-revoke{round_}")

        for name, times in (("grant", grants), ("revoke", revokes)):
            print(f"\n{name}: request to effect in the other process over {len(times)} rounds: "
                  f"median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms")
            assert max(times) < PROPAGATION_BOUND_S
        # Each process heard of each change through Kafka, not through its periodic reload.
        assert second.loader.full_reloads == 1 and second.watcher.changes_applied >= 20


async def test_assignments_persist_for_a_process_started_later(seeded, open_process, with_second_factor):
    async with open_process() as first:
        await with_second_factor(first, "@bob:ru")  # auditor needs it
        await first.admin.grant(ROOT, account="@bob:ru", role="auditor", region="ru", request_id="g1")
    async with open_process() as later:
        # Started means loaded: no waiting needed.
        await later.guard.check(BOB, "audit.read", "ru", request_id="r1")
        assert later.guard.roles_of(BOB, "ru") == ("user", "auditor")
        with pytest.raises(Forbidden):
            await later.guard.check(BOB, "audit.read", "by", request_id="r2")


async def test_the_periodic_reload_catches_a_change_nobody_announced(seeded, open_process):
    async with open_process(reload_interval_s=0.5) as process:
        # Written behind the node's back: no Kafka event will ever say so.
        await seeded.grant(RoleAssignment("@bob:ru", "moderator", "ru"))
        await wait_until(lambda: process.guard.role_for(BOB, "moderation.review", "ru"), bound_s=5)
        await seeded.revoke("@bob:ru", "moderator", "ru")
        await wait_until(lambda: not process.guard.role_for(BOB, "moderation.review", "ru"), bound_s=5)


async def test_a_malformed_event_is_skipped_and_the_next_one_applied(seeded, open_process, kafka_ru, caplog):
    async with open_process() as process:
        await seeded.grant(RoleAssignment("@bob:ru", "moderator", "ru"))
        topic = process.watcher.topic
        await trio.to_thread.run_sync(produce, kafka_ru, topic, b"@bob:ru", b"{not json")
        change = RoleChange(account="@bob:ru", op="grant", role="moderator", region="ru")
        await trio.to_thread.run_sync(produce, kafka_ru, topic, change.key(), change.encode())
        await wait_until(lambda: process.guard.role_for(BOB, "moderation.review", "ru"))
    assert "ignoring a malformed role change" in caplog.text


async def test_a_stopped_watcher_closes_promptly(seeded, open_process):
    with trio.fail_after(3):
        async with open_process():
            pass


async def test_without_kafka_the_watcher_keeps_retrying_and_still_stops(role_store, caplog):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{sock.getsockname()[1]}"
    watcher = RoleWatcher(RoleLoader(role_store, RoleIndex()), bootstrap_servers=dead, topic_prefix="t.",
                          kafka_timeout_s=0.5)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            with trio.move_on_after(2):
                await nursery.start(watcher.run)
                pytest.fail("started without reaching Kafka")
            nursery.cancel_scope.cancel()
    assert "role change topic not reachable yet; retrying" in caplog.text
