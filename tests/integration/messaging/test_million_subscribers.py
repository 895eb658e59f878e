"""The seed's channel scenario at its real size: an owner posts, with links, to a channel of a
million stored subscribers; the one post is one document and one event, and the subscriber online
has it at once. The other 999,998 subscriptions are written straight to the store as the
channel's member documents (svyaz.bench.seed; `svyaz bench channel` also writes each subscriber's
chat-list entry): signing up a million accounts would test sign-up, not the channel."""

from __future__ import annotations

from functools import partial

import trio

from svyaz.bench.seed import seed_subscribers
from svyaz.client.connection import open_node_client
from svyaz.client.messaging import Messenger
from tests.integration.access.test_attack_script import register_and_login
from tests.integration.messaging.test_private_chat import next_event

SUBSCRIBERS = 1_000_000
POST = "Полный текст закона: https://publication.pravo.gov.ru/document/0001 и разбор https://example.org/a?b=1"


async def test_an_owner_posts_with_links_to_a_million_subscribers_in_one_document(node):
    owner_tokens = await register_and_login(node, "@editor:ru")
    reader_tokens = await register_and_login(node, "@reader:ru")
    channels = node.database("channels")
    async with open_node_client(node.url, access_token=owner_tokens["access_token"]) as owner_client, \
            open_node_client(node.url, access_token=reader_tokens["access_token"]) as reader_client:
        owner, reader = Messenger(owner_client, account="@editor:ru"), Messenger(reader_client, account="@reader:ru")
        channel = (await owner.create_channel("Законы сегодня"))["chat"]
        await reader.subscribe(channel)
        seeded = await trio.to_thread.run_sync(partial(
            seed_subscribers, node.config.store.url, node.config.store.database_prefix, channel,
            SUBSCRIBERS - 2, tag="mil", batch=50_000, chat_lists=False))
        # The channel's own count (a point read: counting a million documents takes FerretDB a minute).
        member_count = channels["chats"].find_one({"_id": channel})["member_count"]
        messages_before = await trio.to_thread.run_sync(channels["messages"].estimated_document_count)

        posted = await owner.post(channel, POST)
        pushed = await next_event(reader_client, "message.created")
        [shown] = await reader.posts(channel)

        messages_after = await trio.to_thread.run_sync(channels["messages"].estimated_document_count)

    assert seeded == SUBSCRIBERS - 2 and member_count == SUBSCRIBERS   # with the owner and the reader
    assert posted["links"] == ["https://publication.pravo.gov.ru/document/0001", "https://example.org/a?b=1"]
    assert (pushed["chat"], pushed["seq"], pushed["message"]["links"]) == (channel, posted["seq"], posted["links"])
    assert (shown["text"], shown["comments"]) == (POST, 0)
    assert messages_after - messages_before == 1   # one document for the post, nothing per subscriber
