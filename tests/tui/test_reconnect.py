"""A lost connection: "reconnecting…", waits that grow to a cap (an injected clock, nothing sleeps
for real), a catch-up from history on success, and a refused sign-in that stops it."""

from __future__ import annotations

import asyncio

from textual.widgets import Input

from svyaz.client.connection import NodeUnreachable, RemoteError
from svyaz.tui.widgets.chat_list import ChatList
from svyaz.tui.widgets.conversation import Conversation
from svyaz.tui.widgets.status import StatusBar
from tests.tui.pilot import ALICE, BOB, DM_AB, Clock, message, open_chat, run, screen, settle, until

DROPPED = NodeUnreachable("the node closed the connection (1006 connection lost)")


def down(times: int) -> list[Exception]:
    return [NodeUnreachable("cannot connect to ws://127.0.0.1:9/", hint="is the node running?")
            for _ in range(times)]


def status(app) -> StatusBar:
    return screen(app).query_one(StatusBar)


def test_a_lost_connection_shows_reconnecting_and_keeps_the_typed_text():
    clock = Clock()
    clock.gate = asyncio.Event()

    async def scenario(app, pilot, fake):
        await open_chat(pilot, 0)
        await pilot.press(*"half a thought")
        fake.lose(DROPPED)
        await until(pilot, lambda: screen(app).reconnecting, "reconnecting")
        assert status(app).text.startswith("reconnecting… (attempt 1 in 0.5 s) — node_unreachable: the node closed")
        assert status(app).has_class("-busy")
        assert clock.waits == [0.5]
        assert fake.called("connect") == [("connect", None)]  # not yet: the clock holds the wait
        clock.gate.set()
        await settle(pilot)
        assert fake.called("connect") == [("connect", None), ("connect", ALICE)]
        assert status(app).text == f"reconnected as {ALICE}" and not status(app).has_class("-busy")
        assert screen(app).query_one("#composer", Input).value == "half a thought"
        await pilot.press("enter")
        await settle(pilot)
        assert ("send", "half a thought", BOB, None) in fake.calls

    run(scenario, clock=clock)


def test_waits_grow_to_a_cap_until_the_node_is_back_and_then_it_catches_up():
    clock = Clock()

    async def scenario(app, pilot, fake):
        await open_chat(pilot, 0)
        assert len(screen(app).query_one(Conversation).text().splitlines()) == 7
        fake.fail["connect"] = down(7)
        # While away: two messages the live feed will never bring, and the chat list moved on.
        fake.histories[DM_AB] += [message(DM_AB, 8, BOB, "still there?"), message(DM_AB, 9, BOB, "ping")]
        fake.chat_lists[ALICE][0].update(last_seq=9, preview="ping", read_seq=7, unread=2)
        fake.page = 1  # one message per page: the catch-up has to follow `after` to the end
        fake.lose(DROPPED)
        await settle(pilot)
        assert clock.waits == [0.5, 1, 2, 4, 8, 10, 10, 10]
        assert len(fake.called("connect")) == 1 + 8
        assert [call for call in fake.called("history") if call[3] is not None] == [
            ("history", DM_AB, None, 7), ("history", DM_AB, None, 8), ("history", DM_AB, None, 9)]
        lines = screen(app).query_one(Conversation).text().splitlines()
        assert len(lines) == 9 and "still there?" in lines[-2] and "ping" in lines[-1]
        assert [m["seq"] for m in screen(app).messages] == list(range(1, 10))
        assert ("read", DM_AB, 9) in fake.calls
        assert "ping" in screen(app).query_one(ChatList).text().splitlines()[0]
        assert " 2 " not in screen(app).query_one(ChatList).text().splitlines()[0]

    run(scenario, clock=clock)


def test_an_event_that_comes_during_the_catch_up_is_not_shown_twice():
    async def scenario(app, pilot, fake):
        await open_chat(pilot, 0)
        fake.histories[DM_AB].append(message(DM_AB, 8, BOB, "just now"))
        history = fake.history

        async def history_while_hearing(chat, *, before=None, after=None):
            if after is not None:  # the new connection's feed brings message 8 while the catch-up asks
                fake.push({"kind": "message.created", "chat": DM_AB, "actor": BOB, "seq": 8,
                           "message": message(DM_AB, 8, BOB, "just now")})
                await asyncio.sleep(0.05)
            return await history(chat, before=before, after=after)

        fake.history = history_while_hearing
        fake.lose(DROPPED)
        await settle(pilot)
        assert ("history", DM_AB, None, 7) in fake.calls
        texts = [m["text"] for m in screen(app).messages]
        assert texts.count("just now") == 1 and len(texts) == 8
        assert screen(app).query_one(Conversation).text().count("just now") == 1

    run(scenario)


def test_a_refused_sign_in_stops_reconnecting_with_a_clear_message():
    clock = Clock()

    async def scenario(app, pilot, fake):
        fake.fail["connect"] = [*down(2), RemoteError("refresh_expired", "the refresh token expired",
                                                      hint="svyaz login --as @alice:ru")]
        fake.lose(DROPPED)
        await settle(pilot)
        assert clock.waits == [0.5, 1, 2]
        assert len(fake.called("connect")) == 1 + 3
        text = status(app).text
        assert text.startswith("refresh_expired: the refresh token expired (fix: svyaz login --as @alice:ru)")
        assert "stopped reconnecting" in text and status(app).has_class("-error")
        assert not screen(app).reconnecting

    run(scenario, clock=clock)


def test_a_connection_closed_for_a_revoked_session_is_not_retried():
    clock = Clock()

    async def scenario(app, pilot, fake):
        fake.lose(RemoteError("session_revoked", "the session was revoked", hint="svyaz login"))
        await settle(pilot)
        assert clock.waits == []
        assert len(fake.called("connect")) == 1
        assert "session_revoked" in status(app).text and "stopped reconnecting" in status(app).text

    run(scenario, clock=clock)


def test_the_node_asking_to_wait_longer_is_honoured():
    clock = Clock()

    async def scenario(app, pilot, fake):
        fake.fail["connect"] = [RemoteError("throttled", "too many sign-ins", retry_after_s=30)]
        fake.lose(DROPPED)
        await settle(pilot)
        assert clock.waits == [0.5, 30]
        assert status(app).text == f"reconnected as {ALICE}"

    run(scenario, clock=clock)


def test_switching_account_while_reconnecting_ends_the_attempts():
    clock = Clock()
    clock.gate = asyncio.Event()

    async def scenario(app, pilot, fake):
        fake.lose(DROPPED)
        await until(pilot, lambda: screen(app).reconnecting, "reconnecting")
        await pilot.press("f2")
        await pilot.pause()
        await pilot.press("down", "enter")  # @carol:ru
        await settle(pilot)
        assert fake.called("connect")[-1] == ("connect", "@carol:ru")
        assert not screen(app).reconnecting
        assert "signed in as @carol:ru" in status(app).text
        clock.gate.set()
        await settle(pilot)
        assert fake.called("connect")[-1] == ("connect", "@carol:ru")

    run(scenario, clock=clock)
