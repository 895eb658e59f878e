"""Secret chats through a real node: two devices set up keys, talk end to end, and the node and
its store never hold a word of what they said; tampering, bad input and false reports are refused.
"""

from __future__ import annotations

import base64
import shutil
import uuid
from contextlib import asynccontextmanager

import pytest
import trio
from pymongo import MongoClient

from svyaz.client.connection import RemoteError, open_node_client
from svyaz.client.messaging import Messenger
from svyaz.client.secret import SecretChats, policy_in
from svyaz.client.secret_vault import SecretVault
from svyaz.e2e import escrow
from svyaz.e2e.envelope import parse
from svyaz.e2e.prekeys import DeviceKeys
from svyaz.e2e.session import Session, open_escrowed
from svyaz.gost.keys import Curve, PrivateKey
from svyaz.node.config import DEFAULT_POLICY_DIR
from svyaz.node.service import run
from tests.integration.messaging.test_content_at_rest import stored_report
from tests.integration.access.conftest import RunningNode, node_config, until_serving
from tests.integration.access.test_attack_script import register_and_login

pytestmark = pytest.mark.usefixtures("stack")

SAID = ["Встречаемся у фонтана в 19:00", "bring the documents", "ok, see you there"]


class KeyringFake(dict):
    """The OS keyring stand-in: the vault key lives here, outside the client directory."""

    def get(self, account):  # type: ignore[override]
        return super().get(account)

    def set(self, account, value):
        self[account] = value

    def delete(self, account):
        self.pop(account, None)


def secret_chats(client, account: str, directory) -> SecretChats:
    return SecretChats(Messenger(client, account=account), SecretVault(directory, account, KeyringFake()), me=account)


def every_document(node) -> bytes:
    """Everything the node's databases hold, as one searchable blob."""
    blob = []
    client = node.database("core").client
    for name in client.list_database_names():
        if name.startswith(node.config.store.database_prefix):
            for collection in client[name].list_collection_names():
                blob.extend(repr(doc) for doc in client[name][collection].find())
    return "\n".join(blob).encode()


async def test_two_devices_hold_a_secret_chat_and_the_store_holds_no_plaintext(node, tmp_path):
    alice_tokens = await register_and_login(node, "@alice:ru")
    bob_tokens = await register_and_login(node, "@bob:ru")
    async with open_node_client(node.url, access_token=alice_tokens["access_token"]) as a, \
            open_node_client(node.url, access_token=bob_tokens["access_token"]) as b:
        alice = secret_chats(a, "@alice:ru", tmp_path / "alice")
        bob = secret_chats(b, "@bob:ru", tmp_path / "bob")
        assert await bob.set_up() == 100
        chat = await alice.start("@bob:ru")
        assert (await b.call("keys.count"))["one_time_prekeys"] == 99
        await alice.send(chat, SAID[0])
        await alice.send(chat, SAID[1])
        on_bob = await bob.receive(chat)
        await bob.send(chat, SAID[2])
        on_alice = await alice.receive(chat)
        history = (await b.call("message.history", chat=chat))["messages"]

    assert [entry["text"] for entry in on_bob] == SAID[:2]
    assert [entry["text"] for entry in on_alice] == SAID
    assert alice.safety_number(chat) == bob.safety_number(chat)
    assert [m["seq"] for m in history] == [1, 2, 3] and all(m["text"] == "" and m["sealed"] for m in history)
    stored = every_document(node)
    assert chat.encode() in stored  # we searched the right store
    for text in SAID:
        assert text.encode() not in stored and text.encode("unicode_escape") not in stored
    # The vaults on disk are sealed too.
    for vault in (tmp_path / "alice").rglob("*.vault"):
        assert SAID[0].encode() not in vault.read_bytes() and b"chain_key" not in vault.read_bytes()


@asynccontextmanager
async def alice_and_bob_in_a_secret_chat(node, tmp_path):
    """Alice's and Bob's connections and devices, and the secret chat Alice started with Bob."""
    alice_tokens = await register_and_login(node, "@alice:ru")
    bob_tokens = await register_and_login(node, "@bob:ru")
    async with open_node_client(node.url, access_token=alice_tokens["access_token"]) as a, \
            open_node_client(node.url, access_token=bob_tokens["access_token"]) as b:
        alice = secret_chats(a, "@alice:ru", tmp_path / "alice")
        bob = secret_chats(b, "@bob:ru", tmp_path / "bob")
        await bob.set_up()
        yield a, b, alice, bob, await alice.start("@bob:ru")


async def test_a_tampered_message_is_refused_and_the_chat_goes_on(node, tmp_path):
    async with alice_and_bob_in_a_secret_chat(node, tmp_path) as (a, _, alice, bob, chat):
        await alice.send(chat, "first")
        in_transit = Messenger(a, account="@alice:ru")

        async def altered(chat, sealed, franking, *, client_id):  # one byte flipped on the way
            raw = bytearray(base64.b64decode(sealed))
            raw[-3] ^= 0x40
            return await in_transit.send_sealed(chat, base64.b64encode(bytes(raw)).decode(), franking,
                                                client_id=client_id)

        alice.messenger.send_sealed = altered
        await alice.send(chat, "second")
        alice.messenger = in_transit
        await alice.send(chat, "third")
        on_bob = await bob.receive(chat)

    assert [entry.get("text") for entry in on_bob] == ["first", None, "third"]
    assert "does not authenticate" in on_bob[1]["error"]


async def test_a_recipient_reports_a_secret_message_and_a_forged_report_is_refused(node, tmp_path):
    async with alice_and_bob_in_a_secret_chat(node, tmp_path) as (a, b, alice, bob, chat):
        await alice.send(chat, "you will regret this")
        [received] = await bob.receive(chat)
        report = await bob.report(chat, 1, reason="abuse")
        with pytest.raises(RemoteError) as forged:
            await b.call("secret.report", chat=chat, seq=1, text="something Alice never wrote",
                         franking_key=received["franking_key"], reason="abuse")
        with pytest.raises(RemoteError) as own:
            await a.call("secret.report", chat=chat, seq=1, text="you will regret this",
                         franking_key=received["franking_key"], reason="abuse")
    stored = stored_report(node, report)   # the copy is sealed at rest (test_content_at_rest.py)
    assert stored["account"] == "@alice:ru" and stored["messages"][0]["text"] == "you will regret this"
    assert forged.value.code == "report_not_genuine"
    assert own.value.code == "invalid_message"


async def test_bad_secret_input_gets_a_clear_error_and_stores_nothing(node, tmp_path):
    alice_tokens = await register_and_login(node, "@alice:ru")
    bob_tokens = await register_and_login(node, "@bob:ru")
    await register_and_login(node, "@carol:ru")
    async with open_node_client(node.url, access_token=alice_tokens["access_token"]) as a, \
            open_node_client(node.url, access_token=bob_tokens["access_token"]) as b:
        await secret_chats(b, "@bob:ru", tmp_path / "bob").set_up()
        chat = "sc/@alice:ru/@bob:ru/0123456789abcdef"
        good = {"sealed": base64.b64encode(bytes(40)).decode(), "franking": base64.b64encode(bytes(32)).decode()}
        refused = {}
        for name, args in {
            "not base64": {**good, "sealed": "%%%"},
            "empty": {**good, "sealed": ""},
            "too big": {**good, "sealed": base64.b64encode(bytes(20_000)).decode()},
            "short franking": {**good, "franking": base64.b64encode(bytes(8)).decode()},
            "plain chat": {**good, "chat": "dm/@alice:ru/@bob:ru"},
            "not mine": {**good, "chat": "sc/@bob:ru/@carol:ru/0123456789abcdef"},
            "bad id": {**good, "chat": "sc/@alice:ru/@bob:ru/xyz"},
        }.items():
            with pytest.raises(RemoteError) as err:
                await a.call("secret.send", **{"chat": chat, "client_id": uuid.uuid4().hex, **args})
            refused[name] = err.value.code
        bundle = DeviceKeys.create(one_time=1).public_bundle()
        bundle["signed_prekey"]["signature"] = base64.b64encode(bytes(64)).decode()
        with pytest.raises(RemoteError) as unsigned:
            await a.call("keys.publish", bundle=bundle)
        with pytest.raises(RemoteError) as no_keys:
            await b.call("keys.claim", account="@carol:ru")
        with pytest.raises(RemoteError) as edit:
            await a.call("message.edit", chat=chat, seq=1, text="changed")
        first = await a.call("keys.claim", account="@bob:ru")
        second = await a.call("keys.claim", account="@bob:ru")

    assert set(refused.values()) <= {"invalid_message", "invalid_field", "not_a_participant"}, refused
    assert refused["not mine"] == "not_a_participant"
    assert unsigned.value.code == "invalid_prekeys" and "not signed" in str(unsigned.value)
    assert no_keys.value.code == "no_prekeys"
    assert edit.value.code == "invalid_message"
    assert first["one_time_prekeys"] != second["one_time_prekeys"]
    assert node.database("private")["messages"].count_documents({"chat": {"$regex": "^sc/"}}) == 0


async def test_under_an_escrow_policy_each_message_key_is_wrapped_and_officers_shares_open_it(
        nursery, stack, test_id, tmp_path):
    escrow_key = PrivateKey.generate(Curve.TC26_256_A)
    policies = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, policies)
    (policies / "ru-escrow.pub.pem").write_bytes(escrow_key.public_key().to_pem())
    (policies / "secret-chats.toml").write_text('[ru]\nmode = "escrow"\nescrow_key = "ru-escrow.pub.pem"\n')
    config = node_config(stack, test_id, tmp_path / "node", rbac__policy_dir=str(policies))
    with trio.fail_after(20):
        node = RunningNode(config, await nursery.start(run, config))
    await until_serving(node)
    try:
        alice_tokens = await register_and_login(node, "@alice:ru")
        bob_tokens = await register_and_login(node, "@bob:ru")
        async with open_node_client(node.url, access_token=alice_tokens["access_token"]) as a, \
                open_node_client(node.url, access_token=bob_tokens["access_token"]) as b:
            alice = secret_chats(a, "@alice:ru", tmp_path / "alice")
            bob = secret_chats(b, "@bob:ru", tmp_path / "bob")
            await bob.set_up()
            chat = await alice.start("@bob:ru")
            await alice.send(chat, "escrowed hello")
            on_bob = await bob.receive(chat)
            await bob.send(chat, "escrowed reply")
            policy = await a.call("secret.policy")
            strict_session = Session.from_dict({**alice.vault.load()["sessions"][chat], "escrow_key": None})
            unwrapped = strict_session.seal("no wrap")
            with pytest.raises(RemoteError) as refused:
                await a.call("secret.send", chat=chat, sealed=base64.b64encode(unwrapped.envelope).decode(),
                             franking=base64.b64encode(unwrapped.franking).decode(), client_id=uuid.uuid4().hex)
            stored = (await a.call("message.history", chat=chat))["messages"]
    finally:
        drop_databases(node)

    assert policy["mode"] == "escrow" and policy["escrow_key_id"] == escrow.key_id(escrow_key.public_key())
    assert [entry["text"] for entry in on_bob] == ["escrowed hello"]
    assert policy_in(alice.vault, "@alice:ru", chat) == policy_in(bob.vault, "@bob:ru", chat) == "escrow"
    assert refused.value.code == "invalid_message" and "escrow" in str(refused.value)
    # Two of three officers' shares rebuild the key that opens what the node stored, and nothing less.
    rebuilt = escrow.combine(escrow.split(escrow_key, threshold=2, shares=3)[:2])
    opened = [open_escrowed(parse(base64.b64decode(m["sealed"])), rebuilt, chat=chat, sender=m["sender"],
                            franking=base64.b64decode(m["franking"])).text for m in stored]
    assert opened == ["escrowed hello", "escrowed reply"]


def drop_databases(node) -> None:
    with MongoClient(node.config.store.url) as client:
        for name in client.list_database_names():
            if name.startswith(node.config.store.database_prefix):
                client.drop_database(name)
