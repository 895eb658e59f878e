"""The retention purge on the real store, through a real node (issue 6, "Done means": data past
retention removed, data under legal hold kept; the report holds counts only).

Messages are sent through the node's API; the purge then runs as `svyaz lawful purge` does
(`purge_once`), with its clock moved ahead instead of the messages moved back, so nothing is
written behind the node's back. The legal hold is a real open request in the lawful-access store.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
import trio
from pymongo import MongoClient

from svyaz.client.connection import open_node_client
from svyaz.compliance.lawful.model import LawfulRequest, LegalBasis
from svyaz.compliance.lawful.purge import claim_slot
from svyaz.compliance.lawful.retention import DAY_S
from svyaz.compliance.lawful.store import MongoLawfulStore
from svyaz.messaging.ids import message_id, private_chat_id
from svyaz.node.retention import purge_once
from svyaz.node.service import run
from tests.integration.access.conftest import RunningNode, node, node_config, until_serving  # noqa: F401 - node: the fixture
from tests.integration.access.test_attack_script import register_and_login

pytestmark = pytest.mark.usefixtures("stack")

SECRET_WORDS = "meet at the old mill"


def cid() -> str:
    return uuid.uuid4().hex


async def hold(running: RunningNode, subject: str) -> None:
    """An open (submitted) request about `subject`: its subject is under legal hold from now on."""
    now = time.time()
    client = MongoClient(running.config.store.url)
    try:
        store = MongoLawfulStore(client[f"{running.config.store.database_prefix}_compliance"], trio.CapacityLimiter(1))
        await store.create(LawfulRequest(
            id=f"lr-ru-{uuid.uuid4().hex[:16]}", region="ru", authority="@authority:ru", subject=subject,
            categories=("content", "metadata"), since=now - DAY_S, until=now, deadline=now + DAY_S,
            basis=LegalBasis("court_order", "2-17/2026", "2026-11-01", "Tverskoy district court", "ab" * 32),
            submitted_at=now))
    finally:
        client.close()


def doc(running: RunningNode, bulkhead: str, chat: str, seq: int) -> dict | None:
    with MongoClient(running.config.store.url) as client:
        return client[f"{running.config.store.database_prefix}_{bulkhead}"]["messages"].find_one(
            {"_id": message_id(chat, seq)})


def purge_entries(running: RunningNode) -> list[dict]:
    with MongoClient(running.config.store.url) as client:
        return list(client[f"{running.config.store.database_prefix}_compliance"]["audit"]
                    .find({"action": "retention.purge"}).sort("seq", 1))


async def test_data_past_retention_is_removed_and_data_under_legal_hold_kept(node):
    tokens = {name: await register_and_login(node, f"@{name}:ru") for name in ("alice", "bob", "sub")}
    async with open_node_client(node.url, access_token=tokens["alice"]["access_token"]) as alice, \
            open_node_client(node.url, access_token=tokens["sub"]["access_token"]) as sub, \
            open_node_client(node.url, access_token=tokens["bob"]["access_token"]) as bob:
        for n in range(3):
            await alice.call("message.send", to="@bob:ru", text=f"{SECRET_WORDS} {n}", client_id=cid())
            await alice.call("message.send", to="@sub:ru", text=f"{SECRET_WORDS} {n}", client_id=cid())
        free_group = (await alice.call("group.create", title="free", members=["@bob:ru"]))["chat"]
        held_group = (await alice.call("group.create", title="held", members=["@sub:ru"]))["chat"]
        for chat in (free_group, held_group):
            await alice.call("message.send", chat=chat, text=SECRET_WORDS, client_id=cid())
        free_channel = (await alice.call("channel.create", title="free news"))["chat"]
        held_channel = (await alice.call("channel.create", title="held news"))["chat"]
        await sub.call("channel.subscribe", channel=held_channel)
        for channel in (free_channel, held_channel):
            await alice.call("channel.post", channel=channel, text=SECRET_WORDS, client_id=cid())
        await hold(node, "@sub:ru")

        free_dm, held_dm = private_chat_id("@alice:ru", "@bob:ru"), private_chat_id("@alice:ru", "@sub:ru")
        before = {seq: doc(node, "private", free_dm, seq) for seq in (1, 2, 3)}

        # 200 days on: past content retention (184), inside metadata retention (1095).
        dry = await purge_once(node.config, dry_run=True, now=time.time() + 200 * DAY_S)
        assert doc(node, "private", free_dm, 1) == before[1]   # a dry run changes nothing
        blanked = await purge_once(node.config, dry_run=False, now=time.time() + 200 * DAY_S)
        assert dry.totals() == blanked.totals()

        for seq in (1, 2, 3):
            purged = doc(node, "private", free_dm, seq)
            assert purged["text"] == "" and "content_sealed" not in purged and purged["purged"] > 0
            assert (purged["sender"], purged["sent_at"], purged["client_id"]) == (
                before[seq]["sender"], before[seq]["sent_at"], before[seq]["client_id"])
            kept = doc(node, "private", held_dm, seq)
            assert "purged" not in kept and "content_sealed" in kept     # still sealed content
        assert "purged" in doc(node, "groups", free_group, 1) and "purged" not in doc(node, "groups", held_group, 1)
        assert "purged" in doc(node, "channels", free_channel, 1)
        assert "purged" not in doc(node, "channels", held_channel, 1)
        history = await bob.call("message.history", chat=free_dm)
        assert [message["text"] for message in history["messages"]] == ["", "", ""]
        held_history = await sub.call("message.history", chat=held_dm)
        assert [m["text"] for m in held_history["messages"]] == [f"{SECRET_WORDS} {n}" for n in range(3)]
        bob_chats = {chat["chat"]: chat for chat in (await bob.call("chat.list"))["chats"]}
        assert bob_chats[free_dm]["preview"] == ""
        sub_chats = {chat["chat"]: chat for chat in (await sub.call("chat.list"))["chats"]}
        assert SECRET_WORDS in sub_chats[held_dm]["preview"]

        counts = blanked.as_dict()["bulkheads"]
        assert counts["private"]["content_purged"] == 3 and counts["private"]["messages_deleted"] == 0
        assert counts["private"]["chats_held"] == 1
        assert (counts["groups"]["content_purged"], counts["groups"]["chats_held"]) == (1, 1)
        assert (counts["channels"]["content_purged"], counts["channels"]["chats_held"]) == (1, 1)
        assert blanked.subjects_held == 1 and blanked.previews_purged >= 2

        # 1200 days on: past metadata retention too. The held chats are still all there.
        deleted = await purge_once(node.config, dry_run=False, now=time.time() + 1200 * DAY_S)
        assert all(doc(node, "private", free_dm, seq) is None for seq in (1, 2, 3))
        assert doc(node, "groups", free_group, 1) is None and doc(node, "channels", free_channel, 1) is None
        assert all("content_sealed" in doc(node, "private", held_dm, seq) for seq in (1, 2, 3))
        assert doc(node, "groups", held_group, 1) is not None and doc(node, "channels", held_channel, 1) is not None
        assert (await bob.call("message.history", chat=free_dm))["messages"] == []
        assert deleted.as_dict()["totals"]["messages_deleted"] == 5
        with MongoClient(node.config.store.url) as client:
            left = client[f"{node.config.store.database_prefix}_private"]["client_ids"].count_documents(
                {"_id": {"$regex": f"^{free_dm}"}})
        assert left == 0

        # Purged and deleted messages are not read again: a second purge finds nothing to do.
        again = await purge_once(node.config, dry_run=False, now=time.time() + 1200 * DAY_S)
        assert again.as_dict()["totals"]["messages_deleted"] == 0 and again.as_dict()["totals"]["content_purged"] == 0

    # Counts only, in the report and in the audit log: one entry per run, dry runs included.
    entries = purge_entries(node)
    assert [entry["detail"]["dry_run"] for entry in entries] == ["true", "false", "false", "false"]
    assert entries[1]["detail"]["private_content_purged"] == "3"
    assert entries[2]["detail"]["private_messages_deleted"] == "3"
    assert all(entry["actor"].startswith("operator:") and entry["outcome"] == "success" for entry in entries)
    published = json.dumps([r.as_dict() for r in (dry, blanked, deleted, again)]) + json.dumps(
        [entry["detail"] for entry in entries])
    for leak in ("@", "dm/", "g/ru", "c/ru", SECRET_WORDS, "alice", "sub:"):
        assert leak not in published


async def test_the_node_purges_on_its_schedule_once_per_slot(nursery, stack, test_id, tmp_path):
    config = node_config(stack, test_id, tmp_path / "node", retention__purge_interval_s="1")
    with trio.fail_after(20):
        ports = await nursery.start(run, config)
    running = RunningNode(config, ports)
    await until_serving(running)
    with trio.fail_after(20):
        while not purge_entries(running):
            await trio.sleep(0.2)
    entry = purge_entries(running)[0]
    assert entry["actor"] == f"node:{config.node.id}" and entry["outcome"] == "success"
    assert entry["detail"]["dry_run"] == "false" and entry["detail"]["content_days"] == "184"
    # A slot is run by one process of the node only: whoever claims it first.
    with MongoClient(config.store.url) as client:
        slot = int(time.time()) + 10_000
        assert claim_slot(client, test_id, "ru", slot, now=time.time())
        assert not claim_slot(client, test_id, "ru", slot, now=time.time())
        entries = purge_entries(running)
        assert len({entry["request_id"] for entry in entries}) == len(entries)   # never two entries for one slot
        for name in client.list_database_names():
            if name.startswith(test_id):
                client.drop_database(name)


async def test_the_operator_command_reads_the_nodes_configuration_and_prints_counts(stack, test_id, tmp_path):
    import os
    import subprocess
    import sys

    environ = {**os.environ, "SVYAZ_STORE__URL": stack.mongo("ru"), "SVYAZ_STORE__DATABASE_PREFIX": test_id,
               "SVYAZ_NODE__DATA_DIR": str(tmp_path / "node")}
    command = [sys.executable, "-c", "import sys; from svyaz.cli import main; sys.exit(main())",
               "lawful", "purge", "--region", "ru", "--dry-run"]
    done = await trio.to_thread.run_sync(lambda: subprocess.run(
        [*command, "--json"], env=environ, capture_output=True, text=True, timeout=120))
    text = await trio.to_thread.run_sync(lambda: subprocess.run(
        command, env=environ, capture_output=True, text=True, timeout=120))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["dry_run"] is True and report["content_days"] == 184 and report["metadata_days"] == 1095
    assert set(report["bulkheads"]) == {"private", "groups", "channels"}
    assert text.returncode == 0 and "retention purge of ru (dry run)" in text.stdout
    with MongoClient(stack.mongo("ru")) as client:
        entries = list(client[f"{test_id}_compliance"]["audit"].find({"action": "retention.purge"}))
        client.drop_database(f"{test_id}_compliance")
    assert len(entries) == 2 and all(entry["role"] == "operator" for entry in entries)
