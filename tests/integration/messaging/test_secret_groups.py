"""Secret groups through a real node: three devices hand each other sender keys over 1:1 secret
chats and talk; the store never holds a word of it; a removed member's device cannot open what
follows; a report reveals one message; misuse of secret and plain groups is refused clearly."""

from __future__ import annotations

import base64
import uuid
from contextlib import AsyncExitStack, asynccontextmanager

import pytest

from svyaz.client.connection import RemoteError, open_node_client
from svyaz.client.secret_groups import SecretGroups
from svyaz.e2e import group as sealed_group
from svyaz.e2e.group import PeerSenderKey
from tests.integration.access.test_attack_script import register_and_login
from tests.integration.messaging.test_content_at_rest import stored_report
from tests.integration.messaging.test_secret_chats import every_document, secret_chats

pytestmark = pytest.mark.usefixtures("stack")

SAID = ["Собрание в четверг, пароль «сирень»", "bring the ledger", "ledger is in the safe"]


@asynccontextmanager
async def three_devices(node, tmp_path):
    """Alice, Bob and Carol signed in, each with a device set up for secret chats."""
    tokens = {name: await register_and_login(node, f"@{name}:ru") for name in ("alice", "bob", "carol")}
    async with AsyncExitStack() as stack:
        clients = {name: await stack.enter_async_context(
            open_node_client(node.url, access_token=tokens[name]["access_token"])) for name in tokens}
        groups = {name: SecretGroups(secret_chats(clients[name], f"@{name}:ru", tmp_path / name)) for name in tokens}
        for name in ("bob", "carol"):
            await groups[name].chats.set_up()
        yield clients, groups


async def test_three_devices_talk_in_a_secret_group_and_the_store_holds_no_plaintext(node, tmp_path):
    async with three_devices(node, tmp_path) as (clients, g):
        chat = await g["alice"].create("Совет", ["@bob:ru", "@carol:ru"])
        await g["alice"].send(chat, SAID[0])
        await g["bob"].send(chat, SAID[1])
        on_carol = await g["carol"].receive(chat)
        await g["carol"].send(chat, SAID[2])
        on_alice = await g["alice"].receive(chat)
        on_bob = await g["bob"].receive(chat)
        history = (await clients["bob"].call("message.history", chat=chat))["messages"]
        members = (await clients["alice"].call("group.members", chat=chat))["members"]

        assert [(e["sender"], e["text"]) for e in on_carol] == [("@alice:ru", SAID[0]), ("@bob:ru", SAID[1])]
        assert [e["text"] for e in on_alice] == SAID and [e["text"] for e in on_bob] == SAID
        assert [e["seq"] for e in on_alice] == [1, 2, 3]
        assert all(m["text"] == "" and m["sealed"] and m["franking"] for m in history)
        assert len(members) == 3
        stored = every_document(node)
        assert chat.encode() in stored and b"secret_group" in stored  # the right store, and the group is marked
        for text in SAID:
            assert text.encode() not in stored and text.encode("unicode_escape") not in stored
        # The keys travelled in 1:1 secret chats, whose transcripts show nothing of them.
        for name in ("alice", "bob", "carol"):
            for pairwise in g[name].vault.load()["sessions"]:
                assert g[name].chats.transcript(pairwise) == []
        # Deleting for everyone takes the envelope off the node too.
        await clients["alice"].call("message.delete", chat=chat, seq=1, for_everyone=True)
        [deleted] = (await clients["bob"].call("message.history", chat=chat, after=0, limit=1))["messages"]
        assert deleted["deleted"] and "sealed" not in deleted


async def test_a_removed_member_cannot_open_what_follows_and_a_newcomer_what_came_before(node, tmp_path):
    async with three_devices(node, tmp_path) as (clients, g):
        dave_tokens = await register_and_login(node, "@dave:ru")
        chat = await g["alice"].create("rotation", ["@bob:ru", "@carol:ru"])
        await g["alice"].send(chat, "all three of us")
        assert [e["text"] for e in await g["carol"].receive(chat)] == ["all three of us"]
        carol_state = g["carol"].vault.load()

        await clients["alice"].call("group.remove", chat=chat, account="@carol:ru")
        await g["alice"].send(chat, "Carol has gone")
        history = (await clients["alice"].call("message.history", chat=chat))["messages"]
        with pytest.raises(RemoteError) as carol_refused:
            await g["carol"].receive(chat)
        assert [e["text"] for e in await g["bob"].receive(chat)] == ["all three of us", "Carol has gone"]

        # Carol's device, even handed the stored envelope, holds no key for it.
        after = sealed_group.parse(base64.b64decode(history[-1]["sealed"]))
        carol_keys = carol_state["groups"][chat]["peers"]["@alice:ru"]
        assert str(after.key_id) not in carol_keys
        with pytest.raises(sealed_group.NoSenderKey):
            PeerSenderKey.from_dict(next(iter(carol_keys.values()))).open(after, base64.b64decode(history[-1]["franking"]))
        assert carol_refused.value.code == "not_a_participant"

        # Dave joins late: he reads what comes after, not what came before.
        async with open_node_client(node.url, access_token=dave_tokens["access_token"]) as d:
            dave = SecretGroups(secret_chats(d, "@dave:ru", tmp_path / "dave"))
            await dave.chats.set_up()
            await clients["alice"].call("group.invite", chat=chat, accounts=["@dave:ru"])
            await g["alice"].send(chat, "welcome Dave")
            on_dave = await dave.receive(chat)
        assert [(e["seq"], e.get("text")) for e in on_dave if e.get("text")] == [(3, "welcome Dave")]
        assert all(e.get("pending") or e.get("error") for e in on_dave if e["seq"] < 3)


async def test_a_member_reports_a_group_message_and_a_forged_report_is_refused(node, tmp_path):
    async with three_devices(node, tmp_path) as (clients, g):
        chat = await g["alice"].create("reports", ["@bob:ru", "@carol:ru"])
        await g["alice"].send(chat, "you will regret this")
        [received] = await g["bob"].receive(chat)
        report = await g["bob"].report(chat, 1, reason="abuse")
        with pytest.raises(RemoteError) as forged:
            await clients["carol"].call("secret.report", chat=chat, seq=1, text="something Alice never wrote",
                                        franking_key=received["franking_key"], reason="abuse")
        stored = stored_report(node, report)   # the copy is sealed at rest (test_content_at_rest.py)
        assert stored["account"] == "@alice:ru" and stored["messages"][0]["text"] == "you will regret this"
        assert forged.value.code == "report_not_genuine"


async def test_secret_and_plain_groups_refuse_each_others_messages(node, tmp_path):
    async with three_devices(node, tmp_path) as (clients, g):
        a = clients["alice"]
        secret = await g["alice"].create("secret", ["@bob:ru"])
        plain = (await a.call("group.create", title="plain", members=["@bob:ru"]))["chat"]
        channel = (await a.call("channel.create", title="news"))["chat"]
        await g["alice"].send(secret, "sealed hello")
        [good] = (await a.call("message.history", chat=secret))["messages"]
        sealed = {"sealed": good["sealed"], "franking": good["franking"]}
        one_to_one = base64.b64encode(b"\x01\x42" + bytes(60)).decode()

        async def refusal(action: str, **args) -> RemoteError:
            with pytest.raises(RemoteError) as err:
                await a.call(action, **args)
            return err.value

        text_in_secret = await refusal("message.send", chat=secret, text="in clear", client_id=uuid.uuid4().hex)
        sealed_in_plain = await refusal("secret.send", chat=plain, client_id=uuid.uuid4().hex, **sealed)
        sealed_in_channel = await refusal("secret.send", chat=channel, client_id=uuid.uuid4().hex, **sealed)
        wrong_shape = await refusal("secret.send", chat=secret, client_id=uuid.uuid4().hex,
                                    **{**sealed, "sealed": one_to_one})
        edit = await refusal("message.edit", chat=secret, seq=1, text="changed")
        with pytest.raises(RemoteError) as not_member:
            await clients["carol"].call("secret.send", chat=secret, client_id=uuid.uuid4().hex, **sealed)
        created = await a.call("group.create", title="open", secret=True)
        too_many = await refusal("group.create", title="big", secret=True,
                                 members=[f"@nobody{n}:ru" for n in range(60)])

        assert text_in_secret.code == "invalid_message" and "secret group" in str(text_in_secret)
        assert sealed_in_plain.code == "invalid_message" and "not secret" in str(sealed_in_plain)
        assert sealed_in_channel.code == "invalid_message" and "secret group" in str(sealed_in_channel)
        assert wrong_shape.code == "invalid_message" and "group secret message" in str(wrong_shape)
        assert edit.code == "invalid_message"
        assert not_member.value.code == "not_a_participant"
        assert created["secret"] is True and created["kind"] == "group"
        assert too_many.code == "invalid_message" and "at most 50 members" in str(too_many)
        assert [m["seq"] for m in (await a.call("message.history", chat=secret))["messages"]] == [1]
        assert (await a.call("message.history", chat=plain))["messages"] == []
