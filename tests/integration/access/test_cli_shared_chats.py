"""Groups, channels, comments, blocks and reports from the CLI against a real node: each person on
their own device, running `svyaz` as a user would (the issue's "done means" scenarios)."""

from __future__ import annotations

import re

import pytest

from tests.integration.access.test_cli_accounts import output, svyaz
from tests.integration.access.test_cli_messaging import register
from tests.integration.messaging.test_content_at_rest import stored_report, stored_texts

pytestmark = pytest.mark.usefixtures("stack")

GROUP_ID = re.compile(r"g/ru/[0-9a-f]{16}")
CHANNEL_ID = re.compile(r"c/ru/[0-9a-f]{16}")


def refused(result, says: bytes) -> None:
    """A clear refusal: status 1, an `error:` line saying `says`, no traceback."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert result.stderr.startswith(b"error:") and says in result.stderr, result.stderr.decode()
    assert b"Traceback" not in result.stderr


async def devices(node, tmp_path, *names: str) -> dict:
    """One device per person, each with its account registered and signed in."""
    made = {}
    for name in names:
        made[name] = tmp_path / name
        await register(node, made[name], f"@{name}:ru")
    return made


async def test_a_group_chats_and_a_removed_member_can_no_longer_write(node, tmp_path):
    d = await devices(node, tmp_path, "ann", "bob", "carol")

    created = output(await svyaz(d["ann"], "group", "create", "Weekend trip", "@bob:ru", "--json"))
    group = created["chat"]
    invited = output(await svyaz(d["ann"], "group", "invite", group, "@carol:ru", "@bob:ru", "--json"))
    promoted = output(await svyaz(d["ann"], "group", "admin", group, "@bob:ru", "--json"))
    members = output(await svyaz(d["carol"], "group", "members", group, "--json"))["members"]
    shown_members = (await svyaz(d["carol"], "group", "members", group)).stdout.decode()

    sent = output(await svyaz(d["bob"], "send", group, "Who brings the tent?", "--json"))
    said = (await svyaz(d["carol"], "send", group, "-", stdin="Not me!\nI bring the soup.")).stdout.decode()
    history = output(await svyaz(d["ann"], "history", group, "--json"))["messages"]
    shown = (await svyaz(d["ann"], "history", group)).stdout.decode()
    ann_chats = {c["chat"]: c for c in output(await svyaz(d["ann"], "chats", "--json"))["chats"]}
    read = (await svyaz(d["ann"], "read", group)).stdout.decode()
    ann_after = {c["chat"]: c for c in output(await svyaz(d["ann"], "chats", "--json"))["chats"]}

    removed = (await svyaz(d["bob"], "group", "remove", group, "@carol:ru")).stdout.decode()  # an admin may
    after_removal = await svyaz(d["carol"], "send", group, "wait, why?", check=False)
    cannot_read = await svyaz(d["carol"], "history", group, check=False)
    left = output(await svyaz(d["bob"], "group", "leave", group, "--json"))
    owner_stays = await svyaz(d["ann"], "group", "leave", group, check=False)
    final = output(await svyaz(d["ann"], "group", "members", group, "--json"))["members"]

    assert GROUP_ID.fullmatch(group) and (created["kind"], created["title"], created["owner"]) == (
        "group", "Weekend trip", "@ann:ru")
    assert invited == {"chat": group, "added": ["@carol:ru"]}  # bob was in it already
    assert promoted["role"] == "admin"
    assert sorted((m["account"], m["role"]) for m in members) == [
        ("@ann:ru", "owner"), ("@bob:ru", "admin"), ("@carol:ru", "member")]
    assert "@carol:ru  member" in shown_members.splitlines()
    assert (sent["chat"], sent["seq"]) == (group, 1)
    assert said.strip() == f"sent to {group}: #2 in {group}"
    assert [(m["seq"], m["sender"], m["text"]) for m in history] == [
        (1, "@bob:ru", "Who brings the tent?"), (2, "@carol:ru", "Not me!\nI bring the soup.")]
    assert "@carol:ru: Not me!\n    I bring the soup." in shown
    line = ann_chats[group]
    assert (line["kind"], line["title"], line["last_seq"], line["unread"], line["preview_sender"]) == (
        "group", "Weekend trip", 2, 2, "@carol:ru")
    assert read.strip() == f"read {group} up to #2" and ann_after[group]["unread"] == 0

    assert removed.strip() == f"removed @carol:ru from {group}"
    refused(after_removal, b"you are not in that chat")
    refused(cannot_read, b"you are not in that chat")
    assert left == {"chat": group, "account": "@bob:ru", "removed": True}
    refused(owner_stays, b"the owner cannot leave the group")
    assert final == [{"account": "@ann:ru", "role": "owner"}]
    assert node.database("groups")["messages"].count_documents({"chat": group}) == 2  # the refused send stored nothing


async def test_a_channel_post_with_links_gathers_comments_read_from_the_last(node, tmp_path):
    d = await devices(node, tmp_path, "editor", "reader", "passerby")

    channel = output(await svyaz(d["editor"], "channel", "create", "City news", "--json"))["chat"]
    subscribed = (await svyaz(d["reader"], "channel", "subscribe", channel)).stdout.decode()
    text = "Metro line 3 opens today: https://example.org/metro?line=3. Map: https://example.org/map"
    posted = output(await svyaz(d["editor"], "channel", "post", channel, text, "--json"))
    second = (await svyaz(d["editor"], "channel", "post", channel, "-", stdin="No links here.")).stdout.decode()
    not_editor = await svyaz(d["reader"], "channel", "post", channel, "me too", check=False)
    reader_chats = {c["chat"]: c for c in output(await svyaz(d["reader"], "chats", "--json"))["chats"]}

    for n in range(4):
        who = d["reader"] if n % 2 else d["passerby"]
        await svyaz(who, "comments", "add", channel, "1", f"comment {n}")
    last = output(await svyaz(d["passerby"], "comments", "last", channel, "1", "--limit", "2", "--json"))
    first = output(await svyaz(d["passerby"], "comments", "list", channel, "1", "--limit", "2", "--json"))
    following = output(await svyaz(d["passerby"], "comments", "list", channel, "1", "--after", "2", "--json"))
    before = output(await svyaz(d["passerby"], "channel", "posts", channel, "--json"))["messages"]
    added = output(await svyaz(d["passerby"], "comments", "add", channel, "1", "Thanks!", "--reply-to", "4",
                               "--json"))
    after = output(await svyaz(d["passerby"], "channel", "posts", channel, "--json"))["messages"]
    shown_posts = (await svyaz(d["passerby"], "channel", "posts", channel)).stdout.decode()
    shown_last = (await svyaz(d["reader"], "comments", "last", channel, "1", "--limit", "1")).stdout.decode()
    no_comments = (await svyaz(d["reader"], "comments", "last", channel, "2")).stdout.decode()
    unsubscribed = output(await svyaz(d["reader"], "channel", "unsubscribe", channel, "--json"))

    assert CHANNEL_ID.fullmatch(channel) and subscribed.startswith(f"subscribed to {channel} (City news)")
    assert posted["links"] == ["https://example.org/metro?line=3", "https://example.org/map"]
    assert (posted["chat"], posted["seq"], len(posted["client_id"])) == (channel, 1, 32)
    assert second.strip() == f"posted #2 in {channel}"
    refused(not_editor, b"your role there does not allow it")
    assert (reader_chats[channel]["kind"], reader_chats[channel]["unread"]) == ("channel", 2)

    assert [m["text"] for m in last["messages"]] == ["comment 2", "comment 3"]
    assert last["chat"] == f"{channel}/p/1"
    assert [m["text"] for m in first["messages"]] == ["comment 0", "comment 1"]
    assert [m["seq"] for m in following["messages"]] == [3, 4]
    assert [(p["seq"], p["comments"]) for p in before] == [(1, 4), (2, 0)]
    assert (added["chat"], added["seq"]) == (f"{channel}/p/1", 5)
    assert [(p["seq"], p["comments"]) for p in after] == [(1, 5), (2, 0)]
    assert after[0]["links"] == posted["links"] and after[0]["text"] == text
    assert "(5 comments)" in shown_posts.splitlines()[0] and "(0 comments)" in shown_posts.splitlines()[1]
    assert "@passerby:ru: [reply to #4] Thanks!" in shown_last
    assert no_comments.strip() == f"no comments on #2 of {channel}"
    assert unsubscribed == {"chat": channel, "unsubscribed": True}


async def test_a_blocked_account_cannot_write_or_see_presence_and_is_reported(node, tmp_path):
    d = await devices(node, tmp_path, "alice", "spammer")
    await svyaz(d["spammer"], "send", "@alice:ru", "Cheap watches: http://spam.example")
    seen_before = output(await svyaz(d["spammer"], "presence", "@alice:ru", "--json"))

    blocked = (await svyaz(d["alice"], "block", "@spammer:ru")).stdout.decode()
    listed = output(await svyaz(d["alice"], "blocked", "--json"))
    refused_send = await svyaz(d["spammer"], "send", "@alice:ru", "are you there?", check=False)
    hidden = output(await svyaz(d["spammer"], "presence", "@alice:ru", "--json"))
    hidden_shown = (await svyaz(d["spammer"], "presence", "@alice:ru")).stdout.decode()
    report = output(await svyaz(d["alice"], "report", "@spammer:ru", "--reason", "spam", "--note", "ads",
                                "--message", "@spammer:ru:1", "--json"))
    alice_sees = output(await svyaz(d["alice"], "presence", "@spammer:ru", "--json"))

    unblocked = (await svyaz(d["alice"], "unblock", "@spammer:ru")).stdout.decode()
    again = output(await svyaz(d["spammer"], "send", "@alice:ru", "sorry", "--json"))

    assert seen_before["visible"] is True and seen_before["online"] is False
    assert blocked.startswith("blocked @spammer:ru") and listed == {"accounts": ["@spammer:ru"]}
    refused(refused_send, b"@alice:ru does not accept your messages")
    assert hidden == {"account": "@alice:ru", "visible": False}
    assert hidden_shown.strip() == "@alice:ru: hidden from you"
    assert alice_sees["visible"] is True  # the block is one way
    assert re.fullmatch(r"[0-9a-f]{32}", report["report"])
    [doc] = node.database("moderation")["reports"].find({})
    stored = stored_report(node, doc["_id"])   # note and copies are sealed at rest
    assert (stored["reporter"], stored["account"], stored["reason"], stored["note"]) == (
        "@alice:ru", "@spammer:ru", "spam", "ads")
    assert [m["text"] for m in stored["messages"]] == ["Cheap watches: http://spam.example"]
    assert unblocked.strip() == "unblocked @spammer:ru" and again["seq"] == 2
    assert stored_texts(node, "private") == [
        "Cheap watches: http://spam.example", "sorry"]


async def test_bad_input_is_a_clear_error_and_stores_nothing(node, tmp_path):
    d = await devices(node, tmp_path, "owner", "bob")
    group = output(await svyaz(d["owner"], "group", "create", "Club", "@bob:ru", "--json"))["chat"]
    channel = output(await svyaz(d["owner"], "channel", "create", "Club news", "--json"))["chat"]
    await svyaz(d["owner"], "channel", "post", channel, "the one post")
    too_long = "я" * 4097

    unknown_reason = await svyaz(d["owner"], "report", "@bob:ru", "--reason", "rude", check=False)
    no_seq = await svyaz(d["owner"], "report", "@bob:ru", "--reason", "spam", "--message", "@bob:ru", check=False)
    bad_seq = await svyaz(d["owner"], "report", "@bob:ru", "--reason", "abuse", "--message", f"{group}:x",
                          check=False)
    not_theirs = await svyaz(d["owner"], "report", "@bob:ru", "--reason", "spam", "--message", f"{channel}:1",
                             check=False)
    long_group = await svyaz(d["bob"], "send", group, "-", stdin=too_long, check=False)
    long_post = await svyaz(d["owner"], "channel", "post", channel, "-", stdin=too_long, check=False)
    long_comment = await svyaz(d["bob"], "comments", "add", channel, "1", "-", stdin=too_long, check=False)
    to_channel = await svyaz(d["owner"], "send", channel, "hello", check=False)
    malformed = await svyaz(d["owner"], "group", "members", "g/ru/nothex", check=False)
    no_post = await svyaz(d["bob"], "comments", "add", channel, "7", "hello?", check=False)
    no_such_group = await svyaz(d["bob"], "send", "g/ru/0123456789abcdef", "anyone?", check=False)

    assert unknown_reason.returncode == 2 and b"invalid choice: 'rude'" in unknown_reason.stderr
    for result, says in ((no_seq, b"is not a message reference CHAT:SEQ"), (bad_seq, b"is not a message reference"),
                         (not_theirs, b"a reported message must be one the reported account sent"),
                         (long_group, b"the limit is 4096"), (long_post, b"the limit is 4096"),
                         (long_comment, b"the limit is 4096"), (to_channel, b"is a channel"),
                         (malformed, b"is not a group id"), (no_post, b"has no post 7"),
                         (no_such_group, b"you are not in that chat")):
        refused(result, says)
    assert b"fix: svyaz channel post" in to_channel.stderr
    assert node.database("moderation")["reports"].count_documents({}) == 0
    assert node.database("groups")["messages"].count_documents({}) == 0
    assert stored_texts(node, "channels") == ["the one post"]
