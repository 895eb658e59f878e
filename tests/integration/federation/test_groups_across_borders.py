"""Groups with members in several regions, through three real nodes and MirrorMaker 2: the group's
home node numbers its messages and decides its membership; each member's node keeps a copy."""

from __future__ import annotations

import uuid

import pytest

from svyaz.client.connection import RemoteError, open_node_client
from tests.integration.access.test_attack_script import register_and_login
from tests.integration.federation.test_private_chats_across_borders import next_event, until

pytestmark = pytest.mark.usefixtures("stack")


def client_id() -> str:
    return uuid.uuid4().hex


def stored_seqs(node, chat: str) -> list[tuple[int, str]]:
    return [(doc["seq"], doc["sender"]) for doc in node.database("groups")["messages"].find({"chat": chat}).sort("seq", 1)]


def members_on(node, chat: str) -> dict[str, str]:
    return {doc["account"]: doc["role"] for doc in node.database("groups")["members"].find({"chat": chat})}


async def test_a_group_of_three_countries_has_one_numbering_on_every_node(federation):
    ru, by, kz = federation["ru"], federation["by"], federation["kz"]
    alice = await register_and_login(ru, "@alice:ru")
    dasha = await register_and_login(by, "@dasha:by")
    bob = await register_and_login(kz, "@bob:kz")
    async with open_node_client(ru.url, access_token=alice["access_token"]) as a, \
            open_node_client(by.url, access_token=dasha["access_token"]) as d, \
            open_node_client(kz.url, access_token=bob["access_token"]) as b:
        group = await a.call("group.create", title="Евразия", members=["@dasha:by", "@bob:kz"])
        chat = group["chat"]
        await a.call("message.send", chat=chat, text="добро пожаловать", client_id=client_id())
        welcome = await next_event(b, "message.created", actor="@alice:ru")
        # Bob writes from Kazakhstan: the home in Russia numbers it, every copy gets it.
        sent = await b.call("message.send", chat=chat, text="рахмет!", client_id=client_id())
        on_by = await next_event(d, "message.created", actor="@bob:kz")
        on_ru = await next_event(a, "message.created", actor="@bob:kz")
        await d.call("message.send", chat=chat, text="прывітанне", client_id=client_id())
        await next_event(b, "message.created", actor="@dasha:by")
        history_kz = await b.call("message.history", chat=chat)
        members_kz = await b.call("group.members", chat=chat)

    assert welcome["seq"] == 1 and welcome["message"]["text"] == "добро пожаловать"
    assert sent["seq"] == on_by["seq"] == on_ru["seq"] == 2
    assert [(m["seq"], m["text"]) for m in history_kz["messages"]] == [
        (1, "добро пожаловать"), (2, "рахмет!"), (3, "прывітанне")]
    assert {m["account"]: m["role"] for m in members_kz["members"]} == {
        "@alice:ru": "owner", "@dasha:by": "member", "@bob:kz": "member"}
    expected = [(1, "@alice:ru"), (2, "@bob:kz"), (3, "@dasha:by")]
    await until(lambda: all(stored_seqs(node, chat) == expected for node in (ru, by, kz)))


async def test_a_member_abroad_edits_deletes_and_is_refused_as_at_home(federation):
    ru, kz = federation["ru"], federation["kz"]
    alice = await register_and_login(ru, "@alice:ru")
    bob = await register_and_login(kz, "@bob:kz")
    async with open_node_client(ru.url, access_token=alice["access_token"]) as a, \
            open_node_client(kz.url, access_token=bob["access_token"]) as b:
        chat = (await a.call("group.create", title="рабочая", members=["@bob:kz"]))["chat"]
        await until(lambda: "@bob:kz" in members_on(kz, chat))
        mine = await b.call("message.send", chat=chat, text="черновик", client_id=client_id())
        await b.call("message.edit", chat=chat, seq=mine["seq"], text="исправлено")
        edited = await next_event(a, "message.edited", actor="@bob:kz")
        alices = await a.call("message.send", chat=chat, text="моё", client_id=client_id())
        await next_event(b, "message.created", actor="@alice:ru")
        with pytest.raises(RemoteError) as refused:
            await b.call("message.edit", chat=chat, seq=alices["seq"], text="не моё")
        with pytest.raises(RemoteError) as not_admin:
            await b.call("group.invite", chat=chat, accounts=["@carol:kz"])
        await b.call("message.delete", chat=chat, seq=mine["seq"], for_everyone=True)
        deleted = await next_event(a, "message.deleted", actor="@bob:kz")

    assert edited["message"]["text"] == "исправлено"
    assert refused.value.code == "not_your_message"
    assert not_admin.value.code == "not_a_participant"  # a member, not an admin: as a local member is told
    assert deleted["seq"] == mine["seq"]


async def test_membership_changes_reach_the_copies_and_a_removed_region_stops_receiving(federation):
    ru, by, kz = federation["ru"], federation["by"], federation["kz"]
    alice = await register_and_login(ru, "@alice:ru")
    bob = await register_and_login(kz, "@bob:kz")
    await register_and_login(by, "@dasha:by")
    async with open_node_client(ru.url, access_token=alice["access_token"]) as a, \
            open_node_client(kz.url, access_token=bob["access_token"]) as b:
        chat = (await a.call("group.create", title="клуб", members=["@bob:kz"]))["chat"]
        await a.call("group.admin", chat=chat, account="@bob:kz", admin=True)
        await until(lambda: members_on(kz, chat).get("@bob:kz") == "admin")
        # An admin abroad invites someone from a third country.
        added = await b.call("group.invite", chat=chat, accounts=["@dasha:by"])
        await until(lambda: members_on(by, chat) == {"@alice:ru": "owner", "@bob:kz": "admin", "@dasha:by": "member"})
        await a.call("group.remove", chat=chat, account="@dasha:by")
        await until(lambda: "@dasha:by" not in members_on(by, chat))
        await a.call("message.send", chat=chat, text="без Даши", client_id=client_id())
        await next_event(b, "message.created", actor="@alice:ru")

    assert added == {"added": ["@dasha:by"]}
    assert stored_seqs(by, chat) == []   # nothing was said while Dasha was in


async def test_a_group_of_russians_and_kazakhs_never_reaches_belarus(federation, test_id):
    ru, kz = federation["ru"], federation["kz"]
    alice = await register_and_login(ru, "@alice:ru")
    bob = await register_and_login(kz, "@bob:kz")
    async with open_node_client(ru.url, access_token=alice["access_token"]) as a, \
            open_node_client(kz.url, access_token=bob["access_token"]) as b:
        chat = (await a.call("group.create", title="двое", members=["@bob:kz"]))["chat"]
        await a.call("message.send", chat=chat, text="только ru и kz", client_id=client_id())
        await next_event(b, "message.created", actor="@alice:ru")

    with federation["by"].database("groups").client as client:
        for name in client.list_database_names():
            if name.startswith(test_id):
                for collection in client[name].list_collection_names():
                    assert client[name][collection].count_documents({"chat": chat}) == 0
                    assert client[name][collection].count_documents({"_id": chat}) == 0
