"""Screenshots of the main screens (pytest-textual-snapshot): compared with the SVGs under
`__snapshots__/`; after an intended change, look at the report and run
`pytest tests/tui/test_snapshots.py --snapshot-update`.

Deterministic: the fake backend's fixed times shown in UTC, a fixed terminal size, no blinking
cursor, and the reconnection's wait held by the test's clock (nothing sleeps)."""

from __future__ import annotations

import asyncio
import time

import pytest
from textual.widgets import Input

from svyaz.client.connection import NodeUnreachable, RemoteError
from svyaz.tui.app import make_app
from tests.tui.pilot import ALICE, CAROL, CHANNEL, Clock, backend, message, open_chat, screen, settle, until

SIZE = (120, 32)


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    """Message times are shown in local time: make that UTC here, whatever the machine's zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def still(app) -> None:
    for field in app.screen.query(Input):
        field.cursor_blink = False


def test_chat_list_with_unread_badges_and_an_open_private_chat(snap_compare):
    fake = backend()
    fake.chat_lists[ALICE][1].update(last_seq=13, read_seq=1, unread=12)
    app = make_app(fake, sleep=Clock().sleep)

    async def run_before(pilot) -> None:
        await settle(pilot)
        await open_chat(pilot, 0)  # its badge (3) goes: read
        await pilot.press(*"see you")
        still(app)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_a_channel_with_comment_counts_read_only(snap_compare):
    fake = backend()
    fake.histories[CHANNEL] = [message(CHANNEL, 1, CAROL, "launch", comments=2),
                               message(CHANNEL, 2, CAROL, "the changelog is up", comments=0),
                               message(CHANNEL, 3, CAROL, "thanks for 1000 subscribers!", comments=41)]
    fake.chat_lists[ALICE][2]["last_seq"] = 3
    app = make_app(fake, sleep=Clock().sleep)

    async def run_before(pilot) -> None:
        await settle(pilot)
        await open_chat(pilot, 2)
        still(app)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_the_new_group_form_with_a_refusal_and_what_was_typed(snap_compare):
    fake = backend()
    fake.fail["create_group"] = RemoteError("unknown_account", "@dan:ru has no account here",
                                            hint="check the spelling")
    app = make_app(fake, sleep=Clock().sleep)

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("f3")
        await pilot.pause()
        await pilot.press(*"Book club", "tab", *"@bob:ru, @dan:ru", "enter")
        await settle(pilot)
        still(app)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_reconnecting_with_the_typed_text_kept(snap_compare):
    fake = backend()
    clock = Clock()
    app = make_app(fake, sleep=clock.sleep)

    async def run_before(pilot) -> None:
        clock.gate = asyncio.Event()  # the first wait never ends: the screen stays "reconnecting…"
        await settle(pilot)
        await open_chat(pilot, 0)
        await pilot.press(*"half a thought")
        fake.lose(NodeUnreachable("the node closed the connection (1006 connection lost)"))
        await until(pilot, lambda: screen(app).reconnecting, "reconnecting")
        still(app)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
