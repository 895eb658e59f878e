"""The node's lawful-access sweep on a real node (ru FerretDB and Kafka, the audit log, the shelf on
disk), every half second here (`lawful.expiry_sweep_interval_s`): an exported request nobody looks
at expires at its deadline and its bundle leaves the shelf; a bundle that outlived its request's
close (a node stopped between the two) and a removal cut short are cleaned up too.
"""

from __future__ import annotations

import os
import shutil
import time

import pytest
import trio

from svyaz.rbac.roles import AUTHORITY, SECURITY_OFFICER
from tests.integration.access.conftest import RunningNode, node_config, serving_node
from tests.integration.access.test_attack_script import audit_entries, call_as, register_and_login
from tests.integration.compliance.lawful.test_export_node import approved_request, shelf
from tests.integration.compliance.lawful.test_workflow_node import BASIS, staff

pytestmark = pytest.mark.usefixtures("stack")

DAY = 86_400


@pytest.fixture
async def sweeping_node(nursery, stack, test_id, tmp_path) -> RunningNode:
    config = node_config(stack, test_id, tmp_path / "node", lawful__expiry_sweep_interval_s="0.5")
    async with serving_node(nursery, config, test_id) as running:
        yield running


async def until(condition, *, within_s: float = 30) -> None:
    with trio.fail_after(within_s):
        while not condition():
            await trio.sleep(0.1)


async def test_the_sweep_expires_an_unread_request_and_clears_the_shelf(sweeping_node, tmp_path):
    node = sweeping_node
    await register_and_login(node, "@ivan:ru")
    people = await staff(node, ("@fsb_msk:ru", AUTHORITY), ("@alice_so:ru", SECURITY_OFFICER),
                         ("@boris_so:ru", SECURITY_OFFICER))
    authority, alice = people["@fsb_msk:ru"].tokens, people["@alice_so:ru"].tokens

    # One request exported with a deadline close by; nobody reads it again.
    deadline = time.time() + 30   # well after the steps below
    short = await call_as(node, authority, "lawful.request.submit", subject="@ivan:ru", categories=["sessions"],
                          since=time.time() - DAY, until=time.time(), deadline=deadline, basis=BASIS)
    await call_as(node, alice, "lawful.request.review", id=short["id"])
    await call_as(node, alice, "lawful.request.approve", id=short["id"])
    await call_as(node, people["@boris_so:ru"].tokens, "lawful.request.approve", id=short["id"])
    await call_as(node, alice, "lawful.request.export", id=short["id"])

    # Another delivered and closed, its bundle put back afterwards: what a node stopped between
    # the close and the removal leaves. And a removal cut short.
    closed = await approved_request(node, people, "@ivan:ru", ["sessions"], time.time() - DAY, time.time())
    await call_as(node, alice, "lawful.request.export", id=closed)
    await call_as(node, authority, "lawful.request.download", id=closed)
    shutil.copytree(shelf(node) / closed, tmp_path / "kept")
    shutil.copytree(shelf(node) / closed, tmp_path / "cut-short")
    await call_as(node, authority, "lawful.request.close", id=closed)
    # Moved in whole (a rename), so the sweep never meets them half-copied.
    os.rename(tmp_path / "kept", shelf(node) / closed)
    os.rename(tmp_path / "cut-short", shelf(node) / ".removing-0123456789abcdef")

    await until(lambda: sorted(path.name for path in shelf(node).iterdir()) == [short["id"]])
    assert time.time() < deadline   # the short request's bundle stays while it is exported
    await until(lambda: not any(shelf(node).iterdir()), within_s=deadline - time.time() + 30)

    [expiry] = audit_entries(node, action="lawful.request.expire", target=short["id"])
    assert (expiry["actor"], expiry["detail"]["was"]) == ("node:ru", "exported")
    assert expiry["request_id"].startswith("sweep-")   # the sweep's, not a read's
    steps = node.database("compliance")["lawful_steps"].find({"request": short["id"]}).sort("n", 1)
    assert [step["name"] for step in steps] == ["review", "approve", "approve", "export", "expire"]
    removals = {(e["target"], e["actor"], e["action"], e["detail"]["state"])
                for e in audit_entries(node, **{"detail.step": "bundle_removed"})}
    assert removals == {
        (closed, "@fsb_msk:ru", "lawful.request.close", "closed"),        # at the close
        (closed, "node:ru", "lawful.request.sweep", "closed"),            # the copy put back
        (short["id"], "node:ru", "lawful.request.sweep", "expired"),
    }
    shown = await call_as(node, authority, "lawful.request.show", id=short["id"])
    assert shown["state"] == "expired"
