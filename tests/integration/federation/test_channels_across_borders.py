"""A channel with subscribers abroad, through three real nodes and MirrorMaker 2: its home node
numbers posts and comments; each region with subscribers keeps one copy of each post."""

from __future__ import annotations

import uuid

import pytest

from svyaz.client.connection import open_node_client
from tests.integration.access.test_attack_script import register_and_login
from tests.integration.federation.test_private_chats_across_borders import next_event, until

pytestmark = pytest.mark.usefixtures("stack")


def client_id() -> str:
    return uuid.uuid4().hex


def copies(node, chat: str) -> int:
    return node.database("channels")["messages"].count_documents({"chat": chat})


async def test_two_kazakh_subscribers_read_a_russian_channel_from_one_copy_and_comment(federation):
    ru, by, kz = federation["ru"], federation["by"], federation["kz"]
    owner = await register_and_login(ru, "@editor:ru")
    aigerim = await register_and_login(kz, "@aigerim:kz")
    nurlan = await register_and_login(kz, "@nurlan:kz")
    async with open_node_client(ru.url, access_token=owner["access_token"]) as o, \
            open_node_client(kz.url, access_token=aigerim["access_token"]) as a, \
            open_node_client(kz.url, access_token=nurlan["access_token"]) as n:
        channel = (await o.call("channel.create", title="Новости"))["chat"]
        subscribed = await a.call("channel.subscribe", channel=channel)
        await n.call("channel.subscribe", channel=channel)
        await until(lambda: kz.database("channels")["members"].count_documents({"chat": channel}) == 2)
        post = await o.call("channel.post", channel=channel, text="Главная новость дня", client_id=client_id())
        for_aigerim = await next_event(a, "message.created", actor="@editor:ru")
        for_nurlan = await next_event(n, "message.created", actor="@editor:ru")
        thread = f"{channel}/p/{post['seq']}"
        comment = await a.call("channel.comment", thread=thread, text="Спасибо!", client_id=client_id())
        told = await next_event(o, "message.created", actor="@aigerim:kz")
        await until(lambda: copies(kz, thread) == 1)
        page = await n.call("message.history", chat=channel)

    assert subscribed["title"] == "Новости"
    assert for_aigerim["message"]["text"] == for_nurlan["message"]["text"] == "Главная новость дня"
    assert (comment["chat"], comment["seq"]) == (thread, 1) and told["chat"] == thread
    assert [(m["seq"], m["text"], m["comments"]) for m in page["messages"]] == [(1, "Главная новость дня", 1)]
    # One copy of the post per region, however many subscribers live there; none where nobody does.
    assert (copies(ru, channel), copies(kz, channel), copies(by, channel)) == (1, 1, 0)
    # Subscribers do not see each other: kz knows its own subscribers, not the whole list.
    assert {d["account"] for d in kz.database("channels")["members"].find({"chat": channel})} == {
        "@aigerim:kz", "@nurlan:kz"}


async def test_a_region_whose_last_subscriber_left_gets_no_more_posts(federation):
    ru, by = federation["ru"], federation["by"]
    owner = await register_and_login(ru, "@editor:ru")
    dasha = await register_and_login(by, "@dasha:by")
    async with open_node_client(ru.url, access_token=owner["access_token"]) as o, \
            open_node_client(by.url, access_token=dasha["access_token"]) as d:
        channel = (await o.call("channel.create", title="Погода"))["chat"]
        await d.call("channel.subscribe", channel=channel)
        await o.call("channel.post", channel=channel, text="солнечно", client_id=client_id())
        await next_event(d, "message.created", actor="@editor:ru")
        await d.call("channel.unsubscribe", channel=channel)
        await until(lambda: by.database("channels")["members"].count_documents({"chat": channel}) == 0)
        await o.call("channel.post", channel=channel, text="дождь", client_id=client_id())
        # Back again, on the same stream: had the second post been sent to by, it would be there first.
        await d.call("channel.subscribe", channel=channel)
        await o.call("channel.post", channel=channel, text="снег", client_id=client_id())
        snow = await next_event(d, "message.created", actor="@editor:ru")

    assert snow["seq"] == 3
    assert [doc["seq"] for doc in by.database("channels")["messages"].find({"chat": channel}).sort("seq", 1)] == [1, 3]
