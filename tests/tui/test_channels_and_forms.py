"""Posting to a channel one owns (and not to one one only reads), and the forms that create a group
or a channel, subscribe to a channel and invite to a group, against the in-memory backend."""

from __future__ import annotations

from textual.widgets import Input, Label

from svyaz.client.connection import RemoteError
from svyaz.tui.screens.dialogs import FormDialog
from svyaz.tui.widgets.chat_list import ChatList
from svyaz.tui.widgets.conversation import Conversation
from svyaz.tui.widgets.status import StatusBar
from tests.tui.pilot import ALICE, BOB, CAROL, CHANNEL, GROUP, backend, message, open_chat, run, screen, settle

MINE = "c/ru/mine"


def with_my_channel():
    fake = backend()
    fake.owners[MINE] = ALICE
    fake.chat_lists[ALICE].insert(0, {"chat": MINE, "kind": "channel", "title": "Alice's notes", "last_seq": 1,
                                      "last_at": 2.0, "preview": "hi all", "preview_sender": ALICE, "read_seq": 1,
                                      "unread": 0})
    fake.histories[MINE] = [message(MINE, 1, ALICE, "hi all", comments=0)]
    return fake


def composer(app) -> Input:
    return screen(app).query_one("#composer", Input)


def title(app) -> str:
    return str(screen(app).query_one("#chat-title", Label).content)


def problem(app) -> str:
    return str(app.screen.query_one("#problem", Label).content)


# --- channels -------------------------------------------------------------------------------------

def test_in_a_channel_i_own_the_composer_posts_with_the_channel():
    async def scenario(app, pilot, fake):
        await open_chat(pilot, 0)
        assert ("channel_role", MINE) in fake.calls
        assert not composer(app).disabled and app.focused is composer(app)
        assert "post to the channel" in composer(app).placeholder
        assert "you post here" in title(app)
        await pilot.press(*"release on friday", "enter")
        await settle(pilot)
        assert ("post", MINE, "release on friday") in fake.calls
        assert not fake.called("send") and not fake.called("comment")
        assert composer(app).value == ""
        last = screen(app).query_one(Conversation).text().splitlines()[-1]
        assert "release on friday" in last and "0 comments" in last
        assert "release on friday" in screen(app).query_one(ChatList).text().splitlines()[0]

    run(scenario, with_my_channel())


def test_in_a_channel_i_only_read_the_composer_says_so_and_a_post_takes_comments():
    async def scenario(app, pilot, fake):
        await open_chat(pilot, 2)
        assert ("channel_role", CHANNEL) in fake.calls
        assert composer(app).disabled
        assert "read-only" in composer(app).placeholder and "Enter on a post to comment" in composer(app).placeholder
        assert "read-only" in title(app)
        assert isinstance(app.focused, Conversation)
        await pilot.press("enter")  # on the post: its comments
        await settle(pilot)
        assert not composer(app).disabled and "comment" in composer(app).placeholder
        await pilot.press(*"congrats", "enter")
        await settle(pilot)
        assert ("comment", f"{CHANNEL}/p/1", "congrats") in fake.calls
        assert not fake.called("post")

    run(scenario)


def test_a_refused_post_turns_the_channel_read_only_and_keeps_the_text_for_a_comment():
    async def scenario(app, pilot, fake):
        await open_chat(pilot, 0)
        fake.owners[MINE] = CAROL  # the channel changed hands meanwhile
        await pilot.press(*"my draft", "enter")
        await settle(pilot)
        assert ("post", MINE, "my draft") in fake.calls
        assert "not_a_participant" in screen(app).query_one(StatusBar).text
        assert composer(app).disabled and "read-only" in composer(app).placeholder
        assert composer(app).value == "my draft"
        await pilot.press("enter")  # the conversation has the focus: the post's comments
        await settle(pilot)
        assert composer(app).value == "my draft"
        await pilot.press("enter")
        await settle(pilot)
        assert ("comment", f"{MINE}/p/1", "my draft") in fake.calls

    run(scenario, with_my_channel())


def test_being_made_admin_of_a_channel_opens_its_composer():
    async def scenario(app, pilot, fake):
        await open_chat(pilot, 2)
        assert composer(app).disabled
        fake.admins.add((CHANNEL, ALICE))
        fake.push({"kind": "member.added", "chat": CHANNEL, "actor": CAROL, "message": {"account": ALICE,
                                                                                        "role": "admin"}})
        await settle(pilot)
        assert not composer(app).disabled
        composer(app).focus()
        await pilot.press(*"hello readers", "enter")
        await settle(pilot)
        assert ("post", CHANNEL, "hello readers") in fake.calls

    run(scenario)


def test_a_comment_on_a_shown_post_raises_its_count():
    async def scenario(app, pilot, fake):
        await open_chat(pilot, 2)
        assert "2 comments" in screen(app).query_one(Conversation).text()
        fake.push({"kind": "message.created", "chat": f"{CHANNEL}/p/1", "actor": BOB, "seq": 3,
                   "message": message(f"{CHANNEL}/p/1", 3, BOB, "me too")})
        await settle(pilot)
        assert "3 comments" in screen(app).query_one(Conversation).text()

    run(scenario)


# --- the forms ------------------------------------------------------------------------------------

async def open_form(pilot, key: str) -> FormDialog:
    await pilot.press(key)
    await pilot.pause()
    assert isinstance(pilot.app.screen, FormDialog), pilot.app.screen
    return pilot.app.screen


def test_f3_creates_a_group_with_members_and_opens_it():
    async def scenario(app, pilot, fake):
        form = await open_form(pilot, "f3")
        assert form.kind == "group"
        await pilot.press("enter")
        await pilot.pause()
        assert "a group needs a title" in problem(app)
        await pilot.press(*"Book club", "tab", *"@bob:ru, carol", "enter")
        await pilot.pause()
        assert "not an account id: carol" in problem(app)
        assert not fake.called("create_group")
        form.query_one("#members", Input).value = "@bob:ru, @carol:ru"
        await pilot.press("enter")
        await settle(pilot)
        assert ("create_group", "Book club", [BOB, CAROL]) in fake.calls
        assert not isinstance(app.screen, FormDialog)
        first = screen(app).query_one(ChatList).text().splitlines()[0]
        assert "👥" in first and "Book club" in first
        assert screen(app).open_chat["title"] == "Book club"
        assert app.focused is composer(app)
        await pilot.press(*"welcome", "enter")
        await settle(pilot)
        assert ("send", "welcome", None, screen(app).open_chat["chat"]) in fake.calls

    run(scenario)


def test_a_refusal_stays_in_the_form_with_what_was_typed():
    fake = backend()
    fake.fail["create_group"] = RemoteError("unknown_account", "@dan:ru has no account here",
                                            hint="check the spelling")

    async def scenario(app, pilot, fake):
        form = await open_form(pilot, "f3")
        await pilot.press(*"Team two", "tab", *"@dan:ru", "enter")
        await settle(pilot)
        assert isinstance(app.screen, FormDialog)
        assert problem(app) == "unknown_account: @dan:ru has no account here (fix: check the spelling)"
        assert app.screen.query_one("#problem", Label).has_class("-error")
        assert form.values() == {"title": "Team two", "members": "@dan:ru"}
        form.query_one("#members", Input).value = "@bob:ru"
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, FormDialog)
        assert fake.called("create_group")[-1] == ("create_group", "Team two", [BOB])

    run(scenario, fake)


def test_escape_cancels_a_form():
    async def scenario(app, pilot, fake):
        await open_form(pilot, "f4")
        await pilot.press(*"Nope", "escape")
        await settle(pilot)
        assert not isinstance(app.screen, FormDialog)
        assert not fake.called("create_channel")

    run(scenario)


def test_f4_creates_a_channel_that_i_then_post_to():
    async def scenario(app, pilot, fake):
        await open_form(pilot, "f4")
        await pilot.press(*"Release notes", "enter")
        await settle(pilot)
        assert ("create_channel", "Release notes") in fake.calls
        chat = screen(app).open_chat
        assert chat["kind"] == "channel" and chat["title"] == "Release notes"
        assert "Release notes" in screen(app).query_one(ChatList).text().splitlines()[0]
        assert "created channel Release notes" in screen(app).query_one(StatusBar).text
        await pilot.press(*"v1.0 is out", "enter")
        await settle(pilot)
        assert ("post", chat["chat"], "v1.0 is out") in fake.calls

    run(scenario)


def test_f5_subscribes_to_a_channel_by_id_and_opens_it_read_only():
    fake = backend()
    fake.owners["c/ru/weather"] = CAROL
    fake.histories["c/ru/weather"] = [message("c/ru/weather", 1, CAROL, "sunny", comments=0)]

    async def scenario(app, pilot, fake):
        await open_form(pilot, "f5")
        await pilot.press(*"weather", "enter")
        await pilot.pause()
        assert "a channel id looks like c/" in problem(app)
        app.screen.query_one("#channel", Input).value = "c/ru/nothing"
        await pilot.press("enter")
        await settle(pilot)
        assert problem(app) == "not_a_participant: there is no such channel"
        app.screen.query_one("#channel", Input).value = "c/ru/weather"
        await pilot.press("enter")
        await settle(pilot)
        assert ("subscribe", "c/ru/weather") in fake.calls
        assert screen(app).open_chat["chat"] == "c/ru/weather"
        assert composer(app).disabled and "read-only" in composer(app).placeholder
        assert "sunny" in screen(app).query_one(Conversation).text()
        assert "joined channel" in screen(app).query_one(StatusBar).text

    run(scenario, fake)


def test_f6_invites_to_the_open_group_only():
    async def scenario(app, pilot, fake):
        await pilot.press("f6")  # no group open: the binding is disabled
        await pilot.pause()
        assert not isinstance(app.screen, FormDialog)
        await open_chat(pilot, 1)
        form = await open_form(pilot, "f6")
        assert "Invite to Team" in str(form.query(Label).first().content)
        await pilot.press(*"@bob:ru @dan:ru", "enter")
        await settle(pilot)
        assert ("invite", GROUP, [BOB, "@dan:ru"]) in fake.calls
        assert f"added {BOB}, @dan:ru to Team" in screen(app).query_one(StatusBar).text

    run(scenario)


def test_the_footer_names_the_new_keys():
    async def scenario(app, pilot, fake):
        shown = {binding.description for (_, binding, enabled, _) in app.active_bindings.values() if binding.show}
        assert {"new group", "new channel", "subscribe", "invite", "new chat", "account"} <= shown

    run(scenario)
