"""The chat app against an in-memory backend, driven with Textual's Pilot.

Plain functions running asyncio themselves: the suite runs in trio mode, and Textual needs asyncio.
"""

from __future__ import annotations

import asyncio

from textual.widgets import Input, OptionList

from svyaz.client.connection import RemoteError
from svyaz.tui.app import make_app
from svyaz.tui.screens.dialogs import NewChatDialog, SwitchAccountDialog
from svyaz.tui.widgets.chat_list import ChatList
from svyaz.tui.widgets.conversation import Conversation
from svyaz.tui.widgets.status import StatusBar
from tests.tui.pilot import (
    ALICE,
    BOB,
    CAROL,
    CHANNEL,
    DM_AB,
    GROUP,
    backend,
    message,
    open_chat,
    run,
    screen,
    settle,
)


def test_chat_list_shows_titles_previews_icons_and_unread_badges():
    async def scenario(app, pilot, fake):
        text = screen(app).query_one(ChatList).text()
        lines = text.splitlines()
        assert len(lines) == 3
        assert "👤" in lines[0] and BOB in lines[0] and " 3 " in lines[0] and "hello 7" in lines[0]
        assert "👥" in lines[1] and "Team" in lines[1] and "standup?" in lines[1]
        assert "📢" in lines[2] and "News" in lines[2]
        assert ("connect", None) in fake.calls
        assert f"signed in as {ALICE}" in screen(app).query_one(StatusBar).text

    run(scenario)


def test_opening_a_chat_shows_its_history_newest_last_and_marks_it_read():
    async def scenario(app, pilot, fake):
        await open_chat(pilot, 0)
        conversation = screen(app).query_one(Conversation)
        lines = conversation.text().splitlines()
        assert len(lines) == 7 and "hello 1" in lines[0] and "hello 7" in lines[-1]
        assert conversation.index == 6
        assert ("read", DM_AB, 7) in fake.calls
        assert " 3 " not in screen(app).query_one(ChatList).text().splitlines()[0]

    run(scenario)


def test_older_page_comes_on_ctrl_o():
    fake = backend()
    fake.page = 4

    async def scenario(app, pilot, fake):
        await open_chat(pilot, 0)
        assert "hello 4" in screen(app).query_one(Conversation).text().splitlines()[0]
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert ("history", DM_AB, 4, None) in fake.calls
        lines = screen(app).query_one(Conversation).text().splitlines()
        assert len(lines) == 7 and "hello 1" in lines[0]

    run(scenario, fake)


def test_typing_and_enter_sends_to_the_peer_of_a_private_chat():
    async def scenario(app, pilot, fake):
        await open_chat(pilot, 0)
        assert isinstance(app.focused, Input)
        await pilot.press(*"hi bob")
        await pilot.press("enter")
        await settle(pilot)
        assert ("send", "hi bob", BOB, None) in fake.calls
        assert app.focused.value == ""
        assert "hi bob" in screen(app).query_one(Conversation).text().splitlines()[-1]
        assert "hi bob" in screen(app).query_one(ChatList).text().splitlines()[0]

    run(scenario)


def test_enter_in_a_group_sends_to_the_chat():
    async def scenario(app, pilot, fake):
        await open_chat(pilot, 1)
        await pilot.press(*"on my way", "enter")
        await settle(pilot)
        assert ("send", "on my way", None, GROUP) in fake.calls

    run(scenario)


def test_a_channel_is_read_only_and_enter_on_a_post_opens_its_comments():
    async def scenario(app, pilot, fake):
        await open_chat(pilot, 2)
        assert screen(app).query_one("#composer", Input).disabled
        assert "2 comments" in screen(app).query_one(Conversation).text()
        assert isinstance(app.focused, Conversation)
        await pilot.press("enter")
        await settle(pilot)
        assert "great news" in screen(app).query_one(Conversation).text()
        await pilot.press(*"agreed", "enter")
        await settle(pilot)
        assert ("comment", f"{CHANNEL}/p/1", "agreed") in fake.calls
        await pilot.press("escape")
        await settle(pilot)
        assert "launch" in screen(app).query_one(Conversation).text()

    run(scenario)


def test_a_live_message_moves_its_chat_up_and_raises_its_badge():
    async def scenario(app, pilot, fake):
        fake.push({"kind": "message.created", "chat": GROUP, "actor": CAROL, "seq": 2, "at": 2.0,
                   "message": message(GROUP, 2, CAROL, "lunch at one")})
        await settle(pilot)
        first = screen(app).query_one(ChatList).text().splitlines()[0]
        assert "Team" in first and " 1 " in first and "lunch at one" in first

    run(scenario)


def test_a_live_message_in_the_open_chat_appears_and_is_marked_read():
    async def scenario(app, pilot, fake):
        await open_chat(pilot, 0)
        fake.push({"kind": "message.created", "chat": DM_AB, "actor": BOB, "seq": 8, "at": 9.0,
                   "message": message(DM_AB, 8, BOB, "are you there?")})
        await settle(pilot)
        assert "are you there?" in screen(app).query_one(Conversation).text().splitlines()[-1]
        assert ("read", DM_AB, 8) in fake.calls
        assert " 1 " not in screen(app).query_one(ChatList).text().splitlines()[0]

    run(scenario)


def test_an_event_of_an_unlisted_chat_reloads_the_list():
    async def scenario(app, pilot, fake):
        fake.chat_lists[ALICE].insert(0, {"chat": "g/0002", "kind": "group", "title": "Book club", "last_seq": 1,
                                          "preview": "welcome", "read_seq": 0, "unread": 1})
        fake.push({"kind": "message.created", "chat": "g/0002", "actor": CAROL, "seq": 1,
                   "message": message("g/0002", 1, CAROL, "welcome")})
        await settle(pilot)
        assert "Book club" in screen(app).query_one(ChatList).text().splitlines()[0]

    run(scenario)


def test_f2_switches_to_another_account_on_the_device():
    async def scenario(app, pilot, fake):
        await pilot.press("f2")
        await pilot.pause()
        assert isinstance(app.screen, SwitchAccountDialog)
        options = app.screen.query_one(OptionList)
        options.highlighted = 1  # @carol:ru (sorted)
        await pilot.press("enter")
        await settle(pilot)
        assert ("connect", CAROL) in fake.calls
        assert screen(app).query_one(ChatList).text().count("\n") == 0
        assert f"signed in as {CAROL}" in screen(app).query_one(StatusBar).text

    run(scenario)


def test_ctrl_n_starts_a_private_chat_by_account_id():
    async def scenario(app, pilot, fake):
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert isinstance(app.screen, NewChatDialog)
        await pilot.press(*"dan", "enter")
        await pilot.pause()
        assert "@name:region" in str(app.screen.query_one("#problem").content)
        app.screen.query_one(Input).value = "@dan:ru"
        await pilot.press("enter")
        await settle(pilot)
        assert "@dan:ru" in screen(app).query_one(ChatList).text().splitlines()[0]
        await pilot.press(*"hi dan", "enter")
        await settle(pilot)
        assert ("send", "hi dan", "@dan:ru", None) in fake.calls

    run(scenario)


def test_a_refusal_is_shown_with_code_message_and_fix_not_a_traceback():
    async def scenario(app, pilot, fake):
        await open_chat(pilot, 0)
        fake.fail["send"] = RemoteError("blocked", "@bob:ru does not accept your messages",
                                        hint="ask them to unblock you")
        await pilot.press(*"hello?", "enter")
        await settle(pilot)
        status = screen(app).query_one(StatusBar)
        assert status.text == "blocked: @bob:ru does not accept your messages (fix: ask them to unblock you)"
        assert status.has_class("-error")
        assert app.focused.value == "hello?"  # kept, to try again
        assert app.is_running

    run(scenario)


def test_a_failed_connection_is_reported_and_f2_signs_in_again():
    fake = backend()
    fake.fail["connect"] = RemoteError("session_revoked", "the session was revoked", hint="svyaz login")

    async def scenario(app, pilot, fake):
        assert "session_revoked: the session was revoked (fix: svyaz login)" in screen(app).query_one(StatusBar).text
        await pilot.press("f2")
        await pilot.pause()
        await pilot.press("enter")  # @alice:ru
        await settle(pilot)
        assert "signed in as" in screen(app).query_one(StatusBar).text

    run(scenario, fake)


def test_the_real_adapter_runs_in_the_app_and_an_unreachable_node_is_reported(tmp_path):
    """Trio in guest mode on Textual's loop: no node on the port, so connecting fails in words,
    and quitting ends the guest run."""
    from svyaz.client.accounts import AccountBook, SealedFileSecrets, Tokens
    from svyaz.tui.messenger_backend import MessengerBackend

    book = AccountBook(tmp_path, SealedFileSecrets(tmp_path / "tokens.sealed", "test pass"))
    book.add(ALICE, "ws://127.0.0.1:9/", Tokens("s", "access", "refresh"))
    real = MessengerBackend(book)

    async def main() -> None:
        app = make_app(real)
        async with app.run_test(size=(120, 40)) as pilot:
            for _ in range(100):
                await settle(pilot)
                if "node_unreachable" in screen(app).query_one(StatusBar).text:
                    break
                await asyncio.sleep(0.05)
            assert "node_unreachable: cannot connect to ws://127.0.0.1:9/" in screen(app).query_one(StatusBar).text
            assert "fix: is the node running?" in screen(app).query_one(StatusBar).text
        assert real._token is None  # the guest run ended with the app

    asyncio.run(asyncio.wait_for(main(), 30))
