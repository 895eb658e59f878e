"""The chat app's plain logic (svyaz/tui/state.py), and the import rules of svyaz/tui/__init__.py."""

from __future__ import annotations

from pathlib import Path

import pytest

import svyaz.tui
from svyaz.tui.widgets.chat_list import chat_line
from svyaz.tui.widgets.conversation import message_line
from svyaz.client.connection import RemoteError
from svyaz.client.connection import NodeUnreachable
from svyaz.tui.state import (
    Backoff,
    apply_event,
    apply_role_event,
    chat_icon,
    composer_target,
    count_comment,
    describe_error,
    form_problem,
    listed_chat,
    mark_read,
    may_retry,
    merge_messages,
    role_from_info,
    split_accounts,
)
from tests.layering import imported_modules, within

ME, BOB = "@alice:ru", "@bob:ru"
DM = f"dm/{ME}/{BOB}"


def chats() -> list[dict]:
    return [{"chat": "g/1", "kind": "group", "title": "Team", "last_seq": 3, "read_seq": 3, "unread": 0},
            {"chat": DM, "kind": "private", "title": BOB, "peer": BOB, "last_seq": 5, "read_seq": 2, "unread": 3}]


def created(chat: str, seq: int, actor: str) -> dict:
    return {"kind": "message.created", "chat": chat, "seq": seq, "actor": actor,
            "message": {"seq": seq, "text": f"m{seq}", "sender": actor}}


def test_a_message_from_someone_else_counts_as_unread_and_moves_the_chat_first():
    after, reload = apply_event(chats(), created(DM, 6, BOB), me=ME, open_chat=None)
    assert not reload
    assert after[0]["chat"] == DM and after[0]["unread"] == 4 and after[0]["preview"] == "m6"


def test_in_the_open_chat_or_from_me_it_does_not():
    assert apply_event(chats(), created(DM, 6, BOB), me=ME, open_chat=DM)[0][0]["unread"] == 3
    mine = apply_event(chats(), created(DM, 6, ME), me=ME, open_chat=None)[0][0]
    assert mine["unread"] == 3 and mine["read_seq"] == 6


def test_a_repeated_event_changes_nothing_and_an_unknown_chat_asks_for_a_reload():
    once = apply_event(chats(), created(DM, 6, BOB), me=ME, open_chat=None)[0]
    assert apply_event(once, created(DM, 6, BOB), me=ME, open_chat=None)[0] == once
    assert apply_event(chats(), created("g/2", 1, BOB), me=ME, open_chat=None)[1] is True


def test_my_read_receipt_from_another_device_clears_the_badge():
    after, _ = apply_event(chats(), {"kind": "receipt.read", "chat": DM, "seq": 5, "actor": ME}, me=ME, open_chat=None)
    assert after[1]["unread"] == 0 and after[1]["read_seq"] == 5
    assert mark_read(chats(), DM, 5)[1]["unread"] == 0


def test_where_the_composer_sends():
    assert composer_target(chats()[1]).to == BOB
    assert composer_target(chats()[0]).chat == "g/1" and composer_target(chats()[0]).to is None
    assert composer_target({"chat": "c/1/p/2", "kind": "thread"}).action == "comment"
    assert composer_target({"chat": "c/1", "kind": "channel"}).action == "none"
    assert composer_target({"chat": "c/1", "kind": "channel"}, role="owner").action == "post"
    assert composer_target(None).action == "none"


def test_a_secret_chat_is_listed_with_a_lock_and_sends_to_the_cli_that_holds_its_keys():
    secret = {"chat": "sc/@alice:ru/@me:ru/0123456789abcdef", "kind": "private", "peer": "@alice:ru"}
    target = composer_target(secret)
    assert target.action == "none" and "svyaz secret" in target.placeholder
    assert chat_icon(secret) == "🔒" and chat_icon(chats()[1]) == "👤"
    assert "sealed" in message_line({"sender": "@alice:ru", "text": "", "sealed": "AQI="}, me=ME)
    assert "🔒 secret chat" in chat_line({**secret, "title": "@alice:ru", "preview": ""})


def test_a_channel_takes_posts_from_its_owner_and_admins_only():
    channel = {"chat": "c/ru/1", "kind": "channel"}
    assert composer_target(channel, role="owner") == composer_target(channel, role="admin")
    assert composer_target(channel, role="owner").action == "post"
    assert composer_target(channel, role="owner").chat == "c/ru/1"
    for role in ("subscriber", None):
        target = composer_target(channel, role=role)
        assert target.action == "none" and "read-only" in target.reason and "comment" in target.reason
        assert target.placeholder == target.reason
    assert "post" in composer_target(channel, role="owner").placeholder
    assert composer_target(chats()[0], role="subscriber").action == "send"  # a group is not a channel


def test_roles_come_from_the_nodes_answers_and_member_events_about_me():
    assert role_from_info({"chat": "c/ru/1", "owner": ME}, ME) == "owner"
    assert role_from_info({"chat": "c/ru/1", "owner": BOB}, ME) == "subscriber"
    made_admin = {"kind": "member.added", "chat": "c/ru/1", "actor": BOB, "message": {"account": ME, "role": "admin"}}
    assert apply_role_event({}, made_admin, me=ME) == {"c/ru/1": "admin"}
    someone_else = {**made_admin, "message": {"account": "@carol:ru", "role": "admin"}}
    assert apply_role_event({}, someone_else, me=ME) == {}
    removed = {"kind": "member.removed", "chat": "c/ru/1", "actor": BOB, "message": {"account": ME}}
    assert apply_role_event({"c/ru/1": "admin", "g/2": "owner"}, removed, me=ME) == {"g/2": "owner"}
    assert apply_role_event({"c/ru/1": "admin"}, created("c/ru/1", 3, BOB), me=ME) == {"c/ru/1": "admin"}


def test_a_comment_event_sets_its_posts_count_once():
    posts = [{"seq": 1, "comments": 2}, {"seq": 2, "comments": 0}]
    after = count_comment(posts, created("c/ru/1/p/1", 3, BOB), channel="c/ru/1")
    assert after == [{"seq": 1, "comments": 3}, {"seq": 2, "comments": 0}]
    assert count_comment(after, created("c/ru/1/p/1", 3, BOB), channel="c/ru/1") == after
    assert count_comment(posts, created("c/ru/10/p/1", 9, BOB), channel="c/ru/1") == posts
    assert count_comment(posts, created("c/ru/1", 3, BOB), channel="c/ru/1") == posts


def test_account_lists_and_forms():
    assert split_accounts(" @bob:ru, @carol:ru @bob:ru,,") == (["@bob:ru", "@carol:ru"], "")
    assert split_accounts("") == ([], "")
    accounts, problem = split_accounts("@bob:ru, carol, @dan")
    assert accounts == ["@bob:ru", "carol", "@dan"] and problem.startswith("not an account id: carol, @dan")
    assert form_problem("group", {"title": " ", "members": ""}) == "a group needs a title"
    assert form_problem("group", {"title": "Team", "members": ""}) == ""
    assert "carol" in form_problem("group", {"title": "Team", "members": "carol"})
    assert form_problem("channel", {"title": ""}) == "a channel needs a title"
    assert form_problem("invite", {"accounts": " "}).startswith("name at least one account")
    assert form_problem("invite", {"accounts": "@bob:ru"}) == ""
    for wrong in ("weather", "c/", "g/ru/1", "c/ru/1/p/2"):
        assert form_problem("subscribe", {"channel": wrong}).startswith("a channel id looks like"), wrong
    assert form_problem("subscribe", {"channel": " c/ru/0123 "}) == ""
    listed = listed_chat({"chat": "g/ru/1", "kind": "group", "title": "Team", "owner": ME, "created_at": 5.0})
    assert listed["kind"] == "group" and listed["title"] == "Team" and listed["unread"] == 0


def test_backoff_grows_to_its_cap_and_yields_to_the_nodes_retry_after():
    backoff = Backoff()
    assert [backoff.delay(attempt) for attempt in range(1, 9)] == [0.5, 1, 2, 4, 8, 10, 10, 10]
    assert backoff.delay(2, retry_after_s=30) == 30 and backoff.delay(4, retry_after_s=1) == 4
    assert Backoff(first_s=0.1, factor=3, cap_s=1).delay(3) == 0.9


def test_what_is_worth_connecting_again_for():
    assert may_retry(NodeUnreachable("cannot connect"))
    assert may_retry(RemoteError("unavailable", "loading roles"))
    assert may_retry(RemoteError("throttled", "slow down", retry_after_s=3))
    for refused in ("refresh_expired", "refresh_reuse", "session_revoked", "token_invalid", "bad_credentials"):
        assert not may_retry(RemoteError(refused, "no")), refused
    assert not may_retry(ValueError("a bug"))


def test_merge_keeps_order_and_one_copy():
    merged = merge_messages([{"seq": 3, "text": "a"}, {"seq": 4, "text": "b"}], [{"seq": 1}, {"seq": 4, "text": "B"}])
    assert [m["seq"] for m in merged] == [1, 3, 4] and merged[-1]["text"] == "B"


def test_errors_read_as_code_message_and_fix():
    assert describe_error(RemoteError("forbidden", "no", hint="ask an admin")) == "forbidden: no (fix: ask an admin)"
    assert describe_error(ValueError("odd")) == "ValueError: odd"


TUI_DIR = Path(svyaz.tui.__file__).parent
MODULES = sorted(TUI_DIR.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(TUI_DIR)))
def test_the_tui_is_a_client(path):
    svyaz_imports = {name for name in imported_modules(path) if within(name, ("svyaz",))}
    assert all(within(name, ("svyaz.tui", "svyaz.client", "svyaz.errors")) for name in svyaz_imports), svyaz_imports
    assert not {name for name in imported_modules(path) if within(name, ("pymongo", "confluent_kafka", "bson"))}


@pytest.mark.parametrize("name", ["state", "backend"])
def test_state_and_port_import_neither_textual_nor_trio(name):
    assert not {n for n in imported_modules(TUI_DIR / f"{name}.py") if within(n, ("textual", "trio", "asyncio"))}
