"""The chat app's plain logic (svyaz/tui/state.py), and the import rules of svyaz/tui/__init__.py."""

from __future__ import annotations

from pathlib import Path

import pytest

import svyaz.tui
from svyaz.client.connection import RemoteError
from svyaz.tui.state import apply_event, composer_target, describe_error, mark_read, merge_messages
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
    assert composer_target(None).action == "none"


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
