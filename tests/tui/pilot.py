"""What the Pilot tests share: a fake backend with a few chats, an injectable clock, and waits."""

from __future__ import annotations

import asyncio

from svyaz.tui.app import make_app
from svyaz.tui.screens.chat import ChatScreen
from svyaz.tui.widgets.chat_list import ChatList
from tests.tui.fake_backend import FakeBackend

ALICE, BOB, CAROL = "@alice:ru", "@bob:ru", "@carol:ru"
DM_AB = f"dm/{ALICE}/{BOB}"
GROUP = "g/0001"
CHANNEL = "c/news"


def message(chat: str, seq: int, sender: str, text: str, **extra) -> dict:
    return {"chat": chat, "seq": seq, "sender": sender, "client_id": f"c{seq:08d}", "text": text,
            "sent_at": 1_800_000_000.0 + seq, **extra}


def backend() -> FakeBackend:
    dm = [message(DM_AB, seq, BOB if seq % 2 else ALICE, f"hello {seq}") for seq in range(1, 8)]
    fake = FakeBackend(
        chats={
            ALICE: [
                {"chat": DM_AB, "kind": "private", "title": BOB, "peer": BOB, "last_seq": 7, "last_at": 1.0,
                 "preview": "hello 7", "preview_sender": BOB, "read_seq": 4, "unread": 3},
                {"chat": GROUP, "kind": "group", "title": "Team", "last_seq": 1, "last_at": 0.5,
                 "preview": "standup?", "preview_sender": CAROL, "read_seq": 1, "unread": 0},
                {"chat": CHANNEL, "kind": "channel", "title": "News", "last_seq": 1, "last_at": 0.1,
                 "preview": "launch", "preview_sender": CAROL, "read_seq": 1, "unread": 0},
            ],
            CAROL: [
                {"chat": GROUP, "kind": "group", "title": "Team", "last_seq": 1, "last_at": 0.5,
                 "preview": "standup?", "preview_sender": CAROL, "read_seq": 1, "unread": 0},
            ],
        },
        history={DM_AB: dm, GROUP: [message(GROUP, 1, CAROL, "standup?")],
                 CHANNEL: [message(CHANNEL, 1, CAROL, "launch", comments=2)],
                 f"{CHANNEL}/p/1": [message(f"{CHANNEL}/p/1", 1, BOB, "great news")]},
        current=ALICE,
    )
    fake.owners[CHANNEL] = CAROL
    return fake


class Clock:
    """The app's `sleep`: records each wait and returns at once, or when `gate` is set (if given)."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.gate: asyncio.Event | None = None

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.gate is not None:
            await self.gate.wait()


def run(scenario, fake: FakeBackend | None = None, clock: Clock | None = None) -> FakeBackend:
    fake = fake or backend()
    clock = clock or Clock()

    async def main() -> None:
        app = make_app(fake, sleep=clock.sleep)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await scenario(app, pilot, fake)

    asyncio.run(asyncio.wait_for(main(), 30))
    return fake


async def settle(pilot) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def until(pilot, condition, what: str = "the condition") -> None:
    """Pause until `condition()` holds (for states a worker is still in, so settle would wait)."""
    for _ in range(200):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError(f"{what} never held")


def screen(app) -> ChatScreen:
    assert isinstance(app.screen, ChatScreen), app.screen
    return app.screen


async def open_chat(pilot, index: int) -> None:
    chats = pilot.app.screen.query_one(ChatList)
    chats.focus()
    chats.index = index
    await pilot.press("enter")
    await settle(pilot)
