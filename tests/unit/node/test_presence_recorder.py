"""Presence writes from one background task, latest state per account (svyaz/node/presence_recorder.py)."""

import pytest
import trio
import trio.testing

from svyaz.node.presence_recorder import PresenceRecorder


class SlowStore:
    """A store taking `delay` per write; `failures` first writes fail."""

    def __init__(self, delay: float = 0.01, failures: int = 0) -> None:
        self.delay = delay
        self.failures = failures
        self.writes: list[tuple[str, bool]] = []
        self.busy = 0
        self.most_busy = 0

    async def set(self, account: str, *, online: bool, at: float) -> None:
        self.busy += 1
        self.most_busy = max(self.most_busy, self.busy)
        try:
            await trio.sleep(self.delay)
            if self.failures:
                self.failures -= 1
                raise OSError("store down")
            self.writes.append((account, online))
        finally:
            self.busy -= 1


@pytest.fixture
async def recorder_with(nursery):
    async def start(store: SlowStore) -> PresenceRecorder:
        recorder = PresenceRecorder(store, clock=trio.current_time)
        await nursery.start(recorder.run)
        return recorder
    return start


async def test_an_arrival_returns_once_written(recorder_with, autojump_clock):
    store = SlowStore()
    recorder = await recorder_with(store)
    await recorder.arrived("@ann:ru")
    assert store.writes == [("@ann:ru", True)]


async def test_a_burst_of_departures_is_one_write_at_a_time_and_none_is_lost(recorder_with, autojump_clock):
    store = SlowStore()
    recorder = await recorder_with(store)
    for n in range(10_000):
        await recorder.left(f"@user{n}:ru")   # returns at once
    with trio.fail_after(1_000):
        while len(store.writes) < 10_000:
            await trio.sleep(1)
    assert store.most_busy == 1 and len(set(store.writes)) == 10_000


async def test_only_the_latest_state_of_an_account_is_written(recorder_with, autojump_clock):
    store = SlowStore(delay=1.0)
    recorder = await recorder_with(store)
    await recorder.left("@busy:ru")         # being written while the next ones queue
    await recorder.left("@ann:ru")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(recorder.arrived, "@ann:ru")   # supersedes the queued departure
    assert store.writes == [("@busy:ru", False), ("@ann:ru", True)]


async def test_a_failed_write_is_tried_again(recorder_with, autojump_clock):
    store = SlowStore(failures=2)
    recorder = await recorder_with(store)
    await recorder.left("@ann:ru")
    with trio.fail_after(60):
        while not store.writes:
            await trio.sleep(0.5)
    assert store.writes == [("@ann:ru", False)]
