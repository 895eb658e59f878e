"""How `svyaz chats` prints each kind of chat."""

from svyaz.client.chat_cli import _chat_line


def test_a_private_chat_is_shown_by_its_peer_and_a_group_by_its_title_and_id():
    private = {"chat": "dm/@a:ru/@b:ru", "kind": "private", "peer": "@b:ru", "title": "@b:ru", "unread": 2,
               "preview": "hi", "preview_sender": "@b:ru", "last_at": None}
    group = {"chat": "g/ru/0123456789abcdef", "kind": "group", "title": "Weekend trip", "unread": 0,
             "preview": "", "preview_sender": None, "last_at": None}

    assert _chat_line(private).startswith("@b:ru  2 unread")
    assert _chat_line(group).startswith("Weekend trip (g/ru/0123456789abcdef)  read")
