"""The client's side of groups and channels: naming chats, threads and pages, and the calls the
SDK makes (checked against a recording stand-in for the connection)."""

from __future__ import annotations

import pytest

from svyaz.client.connection import RemoteError
from svyaz.client.messaging import Messenger, chat_for, is_channel, is_group, is_thread, peer_for, thread_id
from svyaz.client.shared_cli import first_page
from svyaz.errors import SvyazError
from svyaz.messaging import ids

GROUP = "g/ru/0123456789abcdef"
CHANNEL = "c/ru/fedcba9876543210"


class Recording:
    """A NodeClient stand-in: answers calls from a script and remembers what was asked."""

    def __init__(self, *answers):
        self.calls: list[tuple[str, dict]] = []
        self._answers = list(answers)

    async def call(self, action, **args):
        self.calls.append((action, args))
        answer = self._answers.pop(0) if self._answers else {}
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_group_channel_and_thread_ids_are_told_apart_as_the_node_does():
    for chat in (GROUP, CHANNEL, f"{CHANNEL}/p/7", "dm/@alice:ru/@bob:ru"):
        kind = ids.chat_kind(chat)
        assert (is_group(chat), is_channel(chat), is_thread(chat)) == (
            kind == ids.GROUP, kind == ids.CHANNEL, kind == ids.COMMENTS)
    assert thread_id(CHANNEL, 7) == ids.comments_chat_id(CHANNEL, 7) == f"{CHANNEL}/p/7"
    assert not is_group("g/ru/0123") and not is_channel(GROUP) and not is_thread(f"{CHANNEL}/p/0")


def test_chat_for_takes_shared_chats_as_given_and_refuses_malformed_ones():
    for chat in (GROUP, CHANNEL, f"{CHANNEL}/p/3"):
        assert chat_for("@alice:ru", chat) == chat
    assert chat_for("@bob:ru", "@alice:ru") == "dm/@alice:ru/@bob:ru"
    with pytest.raises(SvyazError, match="is not a group or channel id") as bad:
        chat_for("@alice:ru", "g/ru/nothex")
    assert "g/ru/0123456789abcdef" in bad.value.hint


@pytest.mark.parametrize("channel, seq", [(GROUP, 1), (CHANNEL, 0), (CHANNEL, -2), ("c/ru/abc", 1)])
def test_a_thread_needs_a_channel_and_a_positive_post_number(channel, seq):
    with pytest.raises(SvyazError):
        thread_id(channel, seq)


def test_a_message_goes_to_an_account_or_a_group_never_to_a_channel():
    assert peer_for("@alice:ru", GROUP) == GROUP
    assert peer_for("@alice:ru", "dm/@alice:ru/@bob:ru") == "@bob:ru"
    with pytest.raises(SvyazError, match="is a channel") as channel:
        peer_for("@alice:ru", CHANNEL)
    with pytest.raises(SvyazError, match="is a comment thread") as thread:
        peer_for("@alice:ru", f"{CHANNEL}/p/4")
    assert "svyaz channel post" in channel.value.hint
    assert thread.value.hint == f"svyaz comments add {CHANNEL} 4 TEXT"


def test_the_first_page_is_the_one_before_its_size_plus_one():
    assert first_page(None) == {"before": 51, "limit": 50}
    assert first_page(3) == {"before": 4, "limit": 3}
    for bad in (0, 101):
        with pytest.raises(SvyazError, match="out of range"):
            first_page(bad)


async def test_a_group_send_names_the_chat_and_a_private_one_the_recipient():
    client = Recording({"chat": GROUP, "seq": 1}, {"chat": "dm/@alice:ru/@bob:ru", "seq": 1})
    messenger = Messenger(client, account="@alice:ru")
    await messenger.send(GROUP, "hello all", reply_to=2)
    await messenger.send("@bob:ru", "hello you")
    with pytest.raises(SvyazError, match="is a channel"):
        await messenger.send(CHANNEL, "not here")

    (group_action, group_args), (private_action, private_args) = client.calls
    assert group_action == private_action == "message.send"
    assert {k: v for k, v in group_args.items() if k != "client_id"} == {"chat": GROUP, "text": "hello all",
                                                                         "reply_to": 2}
    assert {k: v for k, v in private_args.items() if k != "client_id"} == {"to": "@bob:ru", "text": "hello you"}


async def test_a_post_refused_for_a_moment_is_resent_with_the_same_client_id():
    client = Recording(RemoteError("not_published", "stored, not published"),
                       {"chat": CHANNEL, "seq": 1, "links": []})
    messenger = Messenger(client, account="@ed:ru", retry_delay_s=0)
    posted = await messenger.post(CHANNEL, "news")
    first, second = client.calls

    assert posted["seq"] == 1
    assert first == second and first[0] == "channel.post" and "media" not in first[1]
    assert len(first[1]["client_id"]) == 32


async def test_group_and_channel_calls_carry_only_what_is_given():
    client = Recording({"chat": GROUP}, {"added": ["@carol:ru"]}, {"removed": True}, {"account": "@bob:ru"},
                       {"removed": True}, {"role": "admin"}, {"members": []}, {"chat": CHANNEL},
                       {"unsubscribed": False}, {"chat": f"{CHANNEL}/p/2", "seq": 1}, {"messages": []})
    messenger = Messenger(client)
    await messenger.create_group("Trip", ["@bob:ru"])
    assert await messenger.invite(GROUP, ("@carol:ru",)) == ["@carol:ru"]
    assert await messenger.remove_member(GROUP, "@carol:ru") is True
    assert await messenger.leave(GROUP) is True  # asks who it is first
    assert await messenger.set_admin(GROUP, "@bob:ru", True) == "admin"
    await messenger.members(GROUP)
    await messenger.subscribe(CHANNEL)
    assert await messenger.unsubscribe(CHANNEL) is False
    await messenger.comment(f"{CHANNEL}/p/2", "first!", reply_to=None, client_id="abcdefgh12")
    await messenger.comments(CHANNEL, 2, before=10)

    assert [(action, args) for action, args in client.calls] == [
        ("group.create", {"title": "Trip", "members": ["@bob:ru"]}),
        ("group.invite", {"chat": GROUP, "accounts": ["@carol:ru"]}),
        ("group.remove", {"chat": GROUP, "account": "@carol:ru"}),
        ("account.profile.read", {}),
        ("group.remove", {"chat": GROUP, "account": "@bob:ru"}),
        ("group.admin", {"chat": GROUP, "account": "@bob:ru", "admin": True}),
        ("group.members", {"chat": GROUP}),
        ("channel.subscribe", {"channel": CHANNEL}),
        ("channel.unsubscribe", {"channel": CHANNEL}),
        ("channel.comment", {"thread": f"{CHANNEL}/p/2", "text": "first!", "client_id": "abcdefgh12"}),
        ("message.history", {"chat": f"{CHANNEL}/p/2", "before": 10}),
    ]
