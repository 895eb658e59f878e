"""Reloads are serialised, so a full reload that read the store before a change cannot undo the
account reload that read it after; and a watcher that cannot keep up asks for a full reload."""

from __future__ import annotations

import trio
import trio.testing

from svyaz.rbac.assignment import RoleAssignment
from svyaz.rbac.changes import RoleChange
from svyaz.rbac.index import RoleIndex
from svyaz.rbac.loader import RoleLoader
from svyaz.rbac.watcher import RoleWatcher
from tests.unit.rbac.fakes import MemoryStore


class SlowFullReadStore(MemoryStore):
    """load_all takes its snapshot at once but returns only when `release` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.snapshot_taken = trio.Event()
        self.release = trio.Event()

    async def load_all(self):
        snapshot = await super().load_all()
        self.snapshot_taken.set()
        await self.release.wait()
        return snapshot


async def test_an_account_reload_during_a_full_reload_is_not_lost(nursery):
    store = SlowFullReadStore()
    index = RoleIndex()
    loader = RoleLoader(store, index)
    nursery.start_soon(loader.load_all)
    await store.snapshot_taken.wait()  # the full reload now holds a snapshot without the grant
    await store.grant(RoleAssignment("@bob:ru", "admin", "ru"))
    account_done = trio.Event()

    async def reload_bob():
        await loader.load_account("@bob:ru")
        account_done.set()

    nursery.start_soon(reload_bob)
    await trio.testing.wait_all_tasks_blocked()
    assert not account_done.is_set()  # waits for the full reload rather than racing it
    store.release.set()
    await account_done.wait()
    assert index.roles_of("@bob:ru", "ru") == {"admin"}


async def test_a_full_channel_turns_a_change_into_a_full_reload_request():
    watcher = RoleWatcher(RoleLoader(MemoryStore(), RoleIndex()), bootstrap_servers="127.0.0.1:1",
                          topic_prefix="t.", channel_size=1)
    send, receive = trio.open_memory_channel(1)
    change = RoleChange(account="@bob:ru", op="grant", role="admin", region="ru")
    watcher._offer(send, change)
    assert not watcher._resync.is_set()
    watcher._offer(send, change)  # the channel is full: never block the consumer thread
    assert watcher._resync.is_set()
    assert receive.receive_nowait() == change
