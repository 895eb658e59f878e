"""account.data.export through a real node: the caller gets everything held about it, page by page
within the frame limit, and nobody else's (152-FZ art. 14; docs/compliance.md)."""

from __future__ import annotations

import json
import uuid

import pytest
from pymongo import MongoClient

from svyaz.client.connection import RemoteError, open_node_client
from svyaz.client.own_data import download
from tests.integration.access.conftest import node  # noqa: F401 - the fixture
from tests.integration.access.test_attack_script import register_and_login

pytestmark = pytest.mark.usefixtures("stack")
LONG = "Длинное письмо о погоде и о планах на выходные. " * 60   # ~3000 characters


def cid() -> str:
    return uuid.uuid4().hex


async def test_a_user_downloads_everything_held_about_them_and_nobody_else_can(node):
    tokens = {name: await register_and_login(node, f"@{name}:ru") for name in ("alice", "bob", "carol")}
    async with open_node_client(node.url, access_token=tokens["alice"]["access_token"]) as alice, \
            open_node_client(node.url, access_token=tokens["bob"]["access_token"]) as bob:
        await alice.call("account.profile.update", display_name="Алиса", about="пишу письма")
        for n in range(30):
            await alice.call("message.send", to="@bob:ru", text=f"{n}: {LONG}", client_id=cid())
        await bob.call("message.send", to="@alice:ru", text="получил", client_id=cid())
        group = (await alice.call("group.create", title="Семья", members=["@bob:ru"]))["chat"]
        await alice.call("message.send", chat=group, text="всем привет", client_id=cid())
        channel = (await alice.call("channel.create", title="Новости"))["chat"]
        await alice.call("channel.post", channel=channel, text="первый пост", client_id=cid())
        await alice.call("block.add", account="@carol:ru")

        first = await alice.call("account.data.export")
        frames = [first] + [await alice.call("account.data.export", export=first["export"], page=n)
                            for n in range(1, first["pages"])]
        export = await download(alice)

        with pytest.raises(RemoteError) as foreign:
            await bob.call("account.data.export", export=first["export"], page=0)
        with pytest.raises(RemoteError) as asked_for_another:
            await bob.call("account.data.export", account="@alice:ru")
        bobs = await download(bob)

    assert first["pages"] > 1
    assert all(len(json.dumps(frame, ensure_ascii=False, separators=(",", ":")).encode()) < 60 * 1024
               for frame in frames)
    data = export["data"]
    assert export["account"] == "@alice:ru" and export["region"] == "ru"
    assert data["account"][0]["account"] == "@alice:ru" and data["account"][0]["two_factor"] is False
    assert data["profile"] == [{"display_name": "Алиса", "about": "пишу письма", "presence": "everyone"}]
    assert data["sessions"] and all(session["address"] for session in data["sessions"])
    contacts = {(record["record"], record.get("peer") or record.get("chat") or record.get("account"))
                for record in data["contacts"]}
    assert {("private_peer", "@bob:ru"), ("membership", group), ("membership", channel),
            ("block", "@carol:ru")} <= contacts
    messages = [record for record in data["metadata"] if record["record"] == "message"]
    assert len(messages) == 32
    assert sum(record["direction"] == "sent" for record in messages) == 31
    assert all("hidden_for" not in record and record["hidden_by_you"] is False for record in messages)
    texts = [record["text"] for record in data["content"]]
    assert f"7: {LONG}".strip() in texts and "получил" in texts and "всем привет" in texts
    assert [post["text"] for post in data["channel_posts"]] == ["первый пост"]
    assert export["counts"]["content"] == 32
    dumped = json.dumps(export, ensure_ascii=False)
    assert "password" not in dumped and "secret" not in dumped.lower().replace("secret_group", "")

    assert foreign.value.code == "unknown_export"
    assert asked_for_another.value.code == "invalid_field"
    assert bobs["account"] == "@bob:ru" and "Алиса" not in json.dumps(bobs["data"]["profile"], ensure_ascii=False)
    assert {record["chat"] for record in bobs["data"]["channel_posts"]} == set()

    with MongoClient(node.config.store.url) as client:
        audited = list(client[f"{node.config.store.database_prefix}_compliance"]["audit"]
                       .find({"action": "account.data.export", "outcome": "success"}))
    by_actor = {}
    for entry in audited:
        by_actor.setdefault(entry["actor"], []).append(entry)
    assert len(by_actor["@alice:ru"]) == 2 and len(by_actor["@bob:ru"]) == 1   # one per export, not per page
    assert all(entry["target"] == entry["actor"] for entry in audited)
    assert by_actor["@alice:ru"][0]["detail"]["content_records"] == "32"
