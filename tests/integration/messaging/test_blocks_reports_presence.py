"""A user blocks and reports another (the seed scenario); presence honours privacy and blocks;
a moderator reads the report, with the messages kept as the reporter saw them."""

from __future__ import annotations

import uuid

import pytest
import trio

from svyaz.client.connection import RemoteError, open_node_client
from tests.integration.access.test_attack_script import register_and_login

pytestmark = pytest.mark.usefixtures("stack")


def cid() -> str:
    return uuid.uuid4().hex


async def test_a_user_blocks_and_reports_a_spammer_and_a_moderator_sees_the_evidence(node):
    victim = await register_and_login(node, "@vera:ru")
    spammer = await register_and_login(node, "@spam_bot:ru")
    moderator = await register_and_login(node, "@mod:ru")
    node.database("core")["role_assignments"].insert_one(
        {"_id": '["@mod:ru","ru","moderator"]', "account": "@mod:ru", "region": "ru", "role": "moderator",
         "granted_by": "operator"})
    async with open_node_client(node.url, access_token=victim["access_token"]) as v, \
            open_node_client(node.url, access_token=spammer["access_token"]) as s, \
            open_node_client(node.url, access_token=moderator["access_token"]) as m:
        sent = await s.call("message.send", to="@vera:ru", text="Cheap pills! http://spam.example", client_id=cid())
        await v.call("block.add", account="@spam_bot:ru")
        with pytest.raises(RemoteError) as blocked:
            await s.call("message.send", to="@vera:ru", text="hello again", client_id=cid())
        report = await v.call("report.create", account="@spam_bot:ru", reason="spam", note="unsolicited ads",
                              messages=[{"chat": sent["chat"], "seq": sent["seq"]}])
        await s.call("message.delete", chat=sent["chat"], seq=sent["seq"], for_everyone=True)  # hiding the trace
        with pytest.raises(RemoteError) as bad_reason:
            await v.call("report.create", account="@spam_bot:ru", reason="annoying")
        with pytest.raises(RemoteError) as not_seen:  # a message the reporter cannot see is no evidence
            await v.call("report.create", account="@spam_bot:ru", reason="spam",
                         messages=[{"chat": "dm/@mod:ru/@spam_bot:ru", "seq": 1}])
        with pytest.raises(RemoteError) as not_moderator:
            await v.call("moderation.review")
        with trio.fail_after(20):  # the role reaches the node at its next full reload (1 s in tests)
            while True:
                try:
                    queue = (await m.call("moderation.review"))["reports"]
                    break
                except RemoteError:
                    await trio.sleep(0.2)
        blocked_list = (await v.call("block.list"))["accounts"]
        await v.call("block.remove", account="@spam_bot:ru")
        after_unblock = await s.call("message.send", to="@vera:ru", text="sorry", client_id=cid())

    assert blocked.value.code == "blocked"
    assert (bad_reason.value.code, not_seen.value.code) == ("invalid_message", "not_a_participant")
    assert not_moderator.value.code == "forbidden"
    [entry] = queue
    assert (entry["id"], entry["account"], entry["reason"]) == (report["report"], "@spam_bot:ru", "spam")
    assert [m["text"] for m in entry["messages"]] == ["Cheap pills! http://spam.example"]  # kept despite the delete
    assert blocked_list == ["@spam_bot:ru"] and after_unblock["seq"] == 2
    audit = node.database("compliance")["audit"]
    assert audit.find_one({"action": "report.create", "actor": "@vera:ru", "target": "@spam_bot:ru"})
    assert audit.find_one({"action": "moderation.review", "actor": "@mod:ru", "outcome": "allowed"})


async def test_presence_follows_connections_privacy_and_blocks(node):
    tokens = {name: await register_and_login(node, f"@{name}:ru") for name in ("olga", "friend", "stranger")}
    async with open_node_client(node.url, access_token=tokens["friend"]["access_token"]) as friend, \
            open_node_client(node.url, access_token=tokens["stranger"]["access_token"]) as stranger:
        async with open_node_client(node.url, access_token=tokens["olga"]["access_token"]) as olga:
            await olga.call("message.send", to="@friend:ru", text="hi", client_id=cid())
            online = await stranger.call("presence.get", account="@olga:ru")
            await olga.call("account.profile.update", presence="contacts")
            hidden = await stranger.call("presence.get", account="@olga:ru")
            to_contact = await friend.call("presence.get", account="@olga:ru")
            await olga.call("block.add", account="@friend:ru")
            blocked = await friend.call("presence.get", account="@olga:ru")
            await olga.call("block.remove", account="@friend:ru")
        with trio.fail_after(5):  # the gateway records the departure as the connection closes
            while (gone := await friend.call("presence.get", account="@olga:ru"))["online"]:
                await trio.sleep(0.05)

    assert (online["visible"], online["online"]) == (True, True)
    assert hidden == {"account": "@olga:ru", "visible": False}
    assert (to_contact["visible"], to_contact["online"]) == (True, True)
    assert blocked["visible"] is False
    assert gone["online"] is False and gone["last_seen"] > 0


async def test_an_account_on_two_gateways_stays_online_until_it_leaves_both(node, nursery, stack, test_id, tmp_path):
    from svyaz.node.service import run
    from tests.integration.access.conftest import RunningNode, node_config, until_serving

    # Another process of the same node: its own id and ports, the same data dir (token key) and store.
    config = node_config(stack, test_id, tmp_path / "node", node__id=f"ru-{test_id}-second")
    with trio.fail_after(20):
        second = RunningNode(config, await nursery.start(run, config))
    await until_serving(second)
    tokens = {name: await register_and_login(node, f"@{name}:ru") for name in ("pavel", "watcher")}
    async with open_node_client(node.url, access_token=tokens["watcher"]["access_token"]) as watcher:
        async with open_node_client(node.url, access_token=tokens["pavel"]["access_token"]) as on_first:
            async with open_node_client(second.url, access_token=tokens["pavel"]["access_token"]) as on_second:
                await on_second.call("account.profile.read")
                await on_first.call("account.profile.read")
            await trio.sleep(0.5)   # the second gateway has recorded the departure by now
            after_leaving_one = await watcher.call("presence.get", account="@pavel:ru")
        with trio.fail_after(5):
            while (after_leaving_both := await watcher.call("presence.get", account="@pavel:ru"))["online"]:
                await trio.sleep(0.05)

    assert after_leaving_one["online"] is True
    assert after_leaving_both["online"] is False and after_leaving_both["last_seen"] > 0
