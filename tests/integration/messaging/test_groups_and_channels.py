"""Groups and channels through a real node: one stored document and one event per message, live
delivery to the members a gateway holds, roles, comments, unread counts from positions."""

from __future__ import annotations

import uuid

import pytest
import trio

from svyaz.client.connection import RemoteError, open_node_client
from tests.integration.access.test_attack_script import register_and_login
from tests.integration.messaging.test_private_chat import next_event

pytestmark = pytest.mark.usefixtures("stack")


def cid() -> str:
    return uuid.uuid4().hex


async def sign_up(node, *names: str) -> dict[str, dict]:
    return {name: await register_and_login(node, f"@{name}:ru") for name in names}


async def test_a_group_chats_and_its_roles_decide_who_may_change_it(node):
    tokens = await sign_up(node, "ann", "bob", "carol", "dave")
    async with open_node_client(node.url, access_token=tokens["ann"]["access_token"]) as ann, \
            open_node_client(node.url, access_token=tokens["bob"]["access_token"]) as bob, \
            open_node_client(node.url, access_token=tokens["carol"]["access_token"]) as carol, \
            open_node_client(node.url, access_token=tokens["dave"]["access_token"]) as dave:
        group = await ann.call("group.create", title="Weekend trip", members=["@bob:ru", "@carol:ru"])
        chat = group["chat"]
        sent = await ann.call("message.send", chat=chat, text="Who brings the tent?", client_id=cid())
        for member in (bob, carol):
            assert (await next_event(member, "message.created"))["message"]["text"] == "Who brings the tent?"

        refusals = {}
        for name, client, action, args in [
            ("outsider_reads", dave, "message.history", {"chat": chat}),
            ("outsider_sends", dave, "message.send", {"chat": chat, "text": "hi", "client_id": cid()}),
            ("member_invites", bob, "group.invite", {"chat": chat, "accounts": ["@dave:ru"]}),
            ("member_promotes", bob, "group.admin", {"chat": chat, "account": "@bob:ru", "admin": True}),
        ]:
            with pytest.raises(RemoteError) as refused:
                await client.call(action, **args)
            refusals[name] = refused.value.code

        await ann.call("group.admin", chat=chat, account="@bob:ru", admin=True)
        await bob.call("group.invite", chat=chat, accounts=["@dave:ru"])
        await next_event(dave, "member.added")
        await bob.call("group.remove", chat=chat, account="@carol:ru")
        await ann.call("message.send", chat=chat, text="Dave brings it", client_id=cid())
        to_dave = await next_event(dave, "message.created")
        members = (await ann.call("group.members", chat=chat))["members"]
        with pytest.raises(RemoteError) as removed:
            await carol.call("message.history", chat=chat)
        listed = {c["chat"]: c for c in (await dave.call("chat.list"))["chats"]}
        await dave.call("message.read", chat=chat, seq=2)
        after_read = {c["chat"]: c for c in (await dave.call("chat.list"))["chats"]}

    assert sent["seq"] == 1 and to_dave["seq"] == 2
    assert set(refusals.values()) == {"not_a_participant"}
    assert {(m["account"], m["role"]) for m in members} == {("@ann:ru", "owner"), ("@bob:ru", "admin"),
                                                             ("@dave:ru", "member")}
    assert removed.value.code == "not_a_participant"
    assert (listed[chat]["kind"], listed[chat]["title"], listed[chat]["unread"]) == ("group", "Weekend trip", 2)
    assert after_read[chat]["unread"] == 0


async def test_a_group_of_thousands_stores_one_document_and_one_event_per_message(node):
    tokens = await sign_up(node, "owner", "online")
    async with open_node_client(node.url, access_token=tokens["owner"]["access_token"]) as owner, \
            open_node_client(node.url, access_token=tokens["online"]["access_token"]) as online:
        chat = (await owner.call("group.create", title="Town hall", members=["@online:ru"]))["chat"]
        await next_event(online, "member.added")
        # Three thousand more members, written straight to the store (registering each would
        # measure sign-up, not the group).
        groups = node.database("groups")
        groups["members"].insert_many([{"_id": f"{chat}|@m{n}:ru", "chat": chat, "account": f"@m{n}:ru",
                                        "role": "member"} for n in range(3000)])
        before = {name: groups[name].count_documents({}) for name in ("messages", "members", "cursors")}
        for n in range(3):
            await owner.call("message.send", chat=chat, text=f"announcement {n}", client_id=cid())
            assert (await next_event(online, "message.created"))["seq"] == n + 1
        after = {name: groups[name].count_documents({}) for name in ("messages", "members", "cursors")}

    assert after["messages"] - before["messages"] == 3  # one document per message, whatever the size
    assert after["members"] == before["members"] and after["cursors"] == before["cursors"]


async def test_a_channel_post_reaches_subscribers_and_gathers_comments(node):
    tokens = await sign_up(node, "editor", "reader", "passerby")
    async with open_node_client(node.url, access_token=tokens["editor"]["access_token"]) as editor, \
            open_node_client(node.url, access_token=tokens["reader"]["access_token"]) as reader, \
            open_node_client(node.url, access_token=tokens["passerby"]["access_token"]) as passerby:
        channel = (await editor.call("channel.create", title="City news"))["chat"]
        await reader.call("channel.subscribe", channel=channel)
        post = await editor.call("channel.post", channel=channel, client_id=cid(),
                                 text="Metro line 3 opens today: https://example.org/metro?line=3. Map: "
                                      "https://example.org/map")
        pushed = await next_event(reader, "message.created")
        with pytest.raises(RemoteError) as not_editor:
            await reader.call("channel.post", channel=channel, text="me too", client_id=cid())
        thread = f"{channel}/p/{post['seq']}"
        for n in range(5):
            await (reader if n % 2 else passerby).call("channel.comment", thread=thread, text=f"comment {n}",
                                                       client_id=cid())
        last_page = await passerby.call("message.history", chat=thread, limit=2)  # scroll to the last
        posts = await passerby.call("message.history", chat=channel)  # public: no subscription needed
        unread = {c["chat"]: c["unread"] for c in (await reader.call("chat.list"))["chats"]}
        await reader.call("message.read", chat=channel, seq=post["seq"])
        read = {c["chat"]: c["unread"] for c in (await reader.call("chat.list"))["chats"]}

    assert post["links"] == ["https://example.org/metro?line=3", "https://example.org/map"]
    assert pushed["message"]["links"] == post["links"] and pushed["chat"] == channel
    assert not_editor.value.code == "not_a_participant"
    assert [m["text"] for m in last_page["messages"]] == ["comment 3", "comment 4"]
    assert [(m["seq"], m["comments"]) for m in posts["messages"]] == [(1, 5)]
    assert (unread[channel], read[channel]) == (1, 0)


async def test_channel_subscribers_are_not_told_of_each_other(node):
    """A subscription is news to the subscriber's own gateway only: in a channel of a million,
    each new subscriber would otherwise be an event to every reader online (and reveal them)."""
    tokens = await sign_up(node, "host", "early", "late")
    async with open_node_client(node.url, access_token=tokens["host"]["access_token"]) as host, \
            open_node_client(node.url, access_token=tokens["early"]["access_token"]) as early, \
            open_node_client(node.url, access_token=tokens["late"]["access_token"]) as late:
        channel = (await host.call("channel.create", title="Quiet readers"))["chat"]
        await early.call("channel.subscribe", channel=channel)
        own = await next_event(early, "member.added")
        await late.call("channel.subscribe", channel=channel)
        await next_event(late, "member.added")
        post = await host.call("channel.post", channel=channel, text="hello readers", client_id=cid())
        with trio.fail_after(30):
            after_own = await early.pushes.receive()

    assert own["message"]["account"] == "@early:ru"
    # The next thing `early` hears is the post, not `late` arriving.
    assert (after_own["kind"], after_own["seq"]) == ("message.created", post["seq"])


async def test_group_messages_posts_and_comments_are_edited_and_deleted_for_everyone(node):
    tokens = await sign_up(node, "chair", "guest", "critic")
    async with open_node_client(node.url, access_token=tokens["chair"]["access_token"]) as chair, \
            open_node_client(node.url, access_token=tokens["guest"]["access_token"]) as guest, \
            open_node_client(node.url, access_token=tokens["critic"]["access_token"]) as critic:
        group = (await chair.call("group.create", title="Board", members=["@guest:ru"]))["chat"]
        await next_event(guest, "member.added")
        said = await guest.call("message.send", chat=group, text="meeting at 5", client_id=cid())
        await guest.call("message.edit", chat=group, seq=said["seq"], text="meeting at 6")
        edited = await next_event(chair, "message.edited")
        with pytest.raises(RemoteError) as for_me_only:
            await chair.call("message.delete", chat=group, seq=said["seq"])
        await chair.call("message.delete", chat=group, seq=said["seq"], for_everyone=True)  # the owner moderates
        deleted = await next_event(guest, "message.deleted")
        group_history = (await guest.call("message.history", chat=group))["messages"]

        channel = (await chair.call("channel.create", title="Board news"))["chat"]
        post = await chair.call("channel.post", channel=channel, text="see https://a.example", client_id=cid())
        await chair.call("message.edit", chat=channel, seq=post["seq"], text="see https://b.example instead")
        thread = f"{channel}/p/{post['seq']}"
        comment = await critic.call("channel.comment", thread=thread, text="spam spam", client_id=cid())
        with pytest.raises(RemoteError) as not_critics:
            await critic.call("message.edit", chat=channel, seq=post["seq"], text="hijacked")
        await chair.call("message.delete", chat=thread, seq=comment["seq"], for_everyone=True)
        [shown_post] = (await critic.call("message.history", chat=channel))["messages"]
        [shown_comment] = (await critic.call("message.history", chat=thread))["messages"]

    assert (edited["message"]["text"], edited["seq"]) == ("meeting at 6", said["seq"])
    assert for_me_only.value.code == "invalid_field"
    assert deleted["seq"] == said["seq"]
    assert [(m["seq"], m["text"], m.get("deleted")) for m in group_history] == [(said["seq"], "", True)]
    assert (shown_post["text"], shown_post["links"]) == ("see https://b.example instead", ["https://b.example"])
    assert not_critics.value.code == "not_your_message"
    assert (shown_comment.get("deleted"), shown_comment["text"]) == (True, "")


async def test_offline_group_members_get_pushes_and_a_channel_post_one_topic_push(node):
    import json

    tokens = await sign_up(node, "planner", "away")
    pushes = node.config.data_path / "pushes.jsonl"

    def lines() -> list[dict]:
        return [json.loads(line) for line in pushes.read_text().splitlines()] if pushes.exists() else []

    async with open_node_client(node.url, access_token=tokens["planner"]["access_token"]) as planner:
        group = (await planner.call("group.create", title="Hike", members=["@away:ru"]))["chat"]
        said = await planner.call("message.send", chat=group, text="boots on", client_id=cid())
        channel = (await planner.call("channel.create", title="Hike news"))["chat"]
        posted = await planner.call("channel.post", channel=channel, text="route is open", client_id=cid())
        with trio.fail_after(30):
            while not ({p["chat"] for p in lines()} >= {group, channel}):
                await trio.sleep(0.1)

    to_group = [p for p in lines() if p["chat"] == group]
    to_channel = [p for p in lines() if p["chat"] == channel]
    assert [(p["account"], p["seq"], p["sender"]) for p in to_group] == [("@away:ru", said["seq"], "@planner:ru")]
    assert [(p["topic"], p["seq"], p["account"]) for p in to_channel] == [(f"chat:{channel}", posted["seq"], None)]
