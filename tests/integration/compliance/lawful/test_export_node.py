"""The export of an approved request through a real node (ru FerretDB and Kafka, the gateway, the
guard, the audit log) and the `svyaz lawful` CLI, checked with plain `openssl` and the GOST engine
the way docs/compliance.md tells an authority to.

The first test is issue 6's "Done means" walked whole: the authority submits, officer A approves,
A approving again changes nothing, officer B approves, A exports, the authority downloads, plain
openssl accepts the manifest's signature, one changed byte fails verification, the authority
closes the request and the bundle leaves the node's shelf; the audit chain verifies and holds every
step in order.

Real data goes in through the API: a private chat, a group (with a message before the time range
and one after it) and a secret chat between two devices. The request asks for metadata and
content only; two officers approve it through the workflow's API actions.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import trio

from svyaz.client.connection import RemoteError, open_node_client
from svyaz.compliance.lawful.collect import SEALED_NOTICE
from svyaz.e2e import escrow
from svyaz.gost.keys import Curve, PrivateKey
from svyaz.node.config import DEFAULT_POLICY_DIR
from svyaz.node.service import run
from svyaz.rbac.roles import AUTHORITY, SECURITY_OFFICER
from tests.integration.access.conftest import RunningNode, node, node_config, until_serving  # noqa: F401
from tests.integration.access.test_attack_script import PASSWORD, audit_entries, call_as, register_and_login
from tests.integration.compliance.lawful.test_workflow_node import BASIS, audit_verified, staff, svyaz
from tests.integration.messaging.test_secret_chats import secret_chats

pytestmark = pytest.mark.usefixtures("stack")

DAY = 86_400
# The engine, loaded by a configuration file instead of `-engine gost`: then the command in the
# issue works exactly as written.
GOST_CONF = """openssl_conf = openssl_def
[openssl_def]
engines = engine_section
[engine_section]
gost = gost_section
[gost_section]
engine_id = gost
default_algorithms = ALL
"""


def cid() -> str:
    return uuid.uuid4().hex


async def settle() -> None:
    """Let the clock move on, so a message's sent_at is clearly on one side of a range boundary."""
    await trio.sleep(1.1)


def openssl(script: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Plain commands, no Svyaz code in the checking."""
    return subprocess.run(["bash", "-c", "set -euo pipefail\n" + script], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={"PATH": "/usr/bin:/bin", **env})


async def approved_request(node, people, subject: str, categories: list[str], since: float, until: float) -> str:
    """Submitted by @fsb_msk:ru, approved by @alice_so:ru (twice: the second is refused and changes
    nothing) and @boris_so:ru."""
    authority, alice, boris = (people[a].tokens for a in ("@fsb_msk:ru", "@alice_so:ru", "@boris_so:ru"))
    request = await call_as(node, authority, "lawful.request.submit", subject=subject, categories=categories,
                            since=since, until=until, deadline=time.time() + 30 * DAY, basis=BASIS)
    await call_as(node, alice, "lawful.request.review", id=request["id"])
    await call_as(node, alice, "lawful.request.approve", id=request["id"])
    with pytest.raises(RemoteError) as again:
        await call_as(node, alice, "lawful.request.approve", id=request["id"])
    unchanged = await call_as(node, boris, "lawful.request.show", id=request["id"])
    approved = await call_as(node, boris, "lawful.request.approve", id=request["id"])
    assert again.value.code == "already_approved"
    assert (unchanged["state"], unchanged["approved_by"]) == ("in_review", ["@alice_so:ru"])
    assert (approved["state"], approved["approved_by"]) == ("approved", ["@alice_so:ru", "@boris_so:ru"])
    return request["id"]


def shelf(node) -> Path:
    """Where the node keeps bundles until their request is closed or expires."""
    return node.config.data_path / "lawful" / "exports"


async def cli_sign_in(node, tmp_path, people) -> None:
    for person in people.values():
        await svyaz(tmp_path, "login", "--account", person.account, "--node", node.url, "--recovery-code",
                    person.recovery_codes[0], "--password-stdin", stdin=PASSWORD + "\n")


async def test_a_request_from_submission_to_close_exported_signed_checked_with_openssl_and_audited(node, tmp_path):
    ivan, petr = await register_and_login(node, "@ivan:ru"), await register_and_login(node, "@petr:ru")
    olga = await register_and_login(node, "@olga:ru")
    people = await staff(node, ("@fsb_msk:ru", AUTHORITY), ("@alice_so:ru", SECURITY_OFFICER),
                         ("@boris_so:ru", SECURITY_OFFICER))
    async with open_node_client(node.url, access_token=ivan["access_token"]) as i, \
            open_node_client(node.url, access_token=petr["access_token"]) as p, \
            open_node_client(node.url, access_token=olga["access_token"]) as o:
        group = (await i.call("group.create", title="Рыбалка", members=["@petr:ru", "@olga:ru"]))["chat"]
        await i.call("message.send", to="@petr:ru", text="before the range: not to be exported", client_id=cid())
        await o.call("message.send", chat=group, text="group chatter before the range", client_id=cid())
        await settle()
        since = time.time()
        await settle()
        await i.call("message.send", to="@petr:ru", text="Встречаемся в 19:00 у фонтана", client_id=cid())
        await p.call("message.send", to="@ivan:ru", text="ok, bring the papers", client_id=cid())
        await o.call("message.send", chat=group, text="who brings the boat?", client_id=cid())
        await i.call("message.send", chat=group, text="I do", client_id=cid())
        await o.call("message.send", to="@petr:ru", text="not ivan's business", client_id=cid())
        ivan_secret = secret_chats(i, "@ivan:ru", tmp_path / "ivan-device")
        petr_secret = secret_chats(p, "@petr:ru", tmp_path / "petr-device")
        await petr_secret.set_up()
        secret_chat = await ivan_secret.start("@petr:ru")
        await ivan_secret.send(secret_chat, "the secret plan")
        await settle()
        until = time.time()
        await settle()
        await i.call("message.send", to="@petr:ru", text="after the range: not to be exported", client_id=cid())
    request_id = await approved_request(node, people, "@ivan:ru", ["metadata", "content"], since, until)
    await cli_sign_in(node, tmp_path, people)

    # The operator hands the node's export key to the authority, out of band.
    pinned = tmp_path / "pinned-node-export.pub.pem"
    printed = await svyaz(tmp_path, "lawful", "export-key", "--data-dir", str(node.config.data_path))
    pinned.write_bytes(printed.stdout)
    exported = json.loads((await svyaz(tmp_path, "lawful", "export", request_id, "--as", "@alice_so:ru",
                                       "--json")).stdout)
    downloaded = json.loads((await svyaz(tmp_path, "lawful", "download", request_id, "--out",
                                         str(tmp_path / "received"), "--key", str(pinned), "--as", "@fsb_msk:ru",
                                         "--json")).stdout)
    bundle = tmp_path / "received" / request_id
    shown = await call_as(node, people["@fsb_msk:ru"].tokens, "lawful.request.show", id=request_id)

    # What the officer and the authority were told, and where the request stands.
    assert exported["state"] == "exported" and downloaded["verification"]["ok"]
    assert downloaded["verification"]["key_source"] == "pinned"
    assert shown["state"] == "delivered"
    assert [path.name for path in shelf(node).iterdir()] == [request_id]   # the node's copy, until the close
    assert sorted(path.name for path in bundle.iterdir()) == [
        "content.jsonl", "manifest.json", "manifest.sig", "metadata.jsonl", "node-export.pub.pem"]  # no sessions

    # Plain openssl: the signature, then every file's Streebog-256 against the manifest.
    shutil.copy(pinned, bundle / "pinned.pem")   # as docs/compliance.md says, but with the pinned copy
    checked = openssl("""
        openssl dgst -engine gost -md_gost12_256 -verify pinned.pem -signature manifest.sig manifest.json
        for f in $(jq -r '.files[].name' manifest.json); do
          want=$(jq -r --arg f "$f" '.files[] | select(.name == $f) | .streebog256' manifest.json)
          got=$(openssl dgst -engine gost -md_gost12_256 -r "$f" | cut -d' ' -f1)
          [ "$got" = "$want" ] && echo "$f OK" || echo "$f CHANGED"
        done
        """, bundle)
    (bundle / "pinned.pem").unlink()
    (tmp_path / "gost.cnf").write_text(GOST_CONF)
    as_in_the_issue = openssl("openssl dgst -md_gost12_256 -verify node-export.pub.pem -signature manifest.sig "
                              "manifest.json", bundle, OPENSSL_CONF=str(tmp_path / "gost.cnf"))
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.splitlines() == ["Verified OK", "metadata.jsonl OK", "content.jsonl OK"]
    assert as_in_the_issue.stdout.strip() == "Verified OK", as_in_the_issue.stderr

    # Scope: the time range, the subject's conversations only, the categories asked for.
    content = [json.loads(line) for line in (bundle / "content.jsonl").read_text().splitlines()]
    metadata = [json.loads(line) for line in (bundle / "metadata.jsonl").read_text().splitlines()]
    texts = [record.get("text") for record in content]
    assert texts == ["Встречаемся в 19:00 у фонтана", "ok, bring the papers", None, "who brings the boat?", "I do"]
    raw = (bundle / "content.jsonl").read_text() + (bundle / "metadata.jsonl").read_text()
    assert "before the range" not in raw and "after the range" not in raw and "not ivan's business" not in raw
    [secret] = [record for record in content if record["chat"] == secret_chat]
    assert secret["end_to_end"] is True and secret["notice"] == SEALED_NOTICE and secret["sealed"]
    assert "the secret plan" not in raw
    chats = {record["chat"]: record for record in metadata if record["record"] == "chat"}
    assert set(chats) == {"dm/@ivan:ru/@petr:ru", group, secret_chat}
    assert {m["account"] for m in chats[group]["members"]} == {"@ivan:ru", "@petr:ru", "@olga:ru"}
    assert not any("text" in record for record in metadata)
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["request"]["categories"] == ["metadata", "content"]
    assert [entry["records"] for entry in manifest["files"]] == [len(metadata), len(content)]

    # One changed byte in one exported file: `svyaz lawful verify` names it and fails; so does openssl.
    data = bytearray((bundle / "content.jsonl").read_bytes())
    data[len(data) // 2] ^= 0x01
    (bundle / "content.jsonl").write_bytes(bytes(data))
    tampered = await svyaz(tmp_path, "lawful", "verify", str(bundle), "--key", str(pinned), check=False)
    tampered_json = await svyaz(tmp_path, "lawful", "verify", str(bundle), "--key", str(pinned), "--json",
                                check=False)
    assert tampered.returncode == 1 and b"content.jsonl" in tampered.stderr and b"Traceback" not in tampered.stderr
    assert json.loads(tampered_json.stdout)["first_bad"] == "content.jsonl" and tampered_json.returncode == 1
    recomputed = openssl("openssl dgst -engine gost -md_gost12_256 -r content.jsonl 2>/dev/null | cut -d' ' -f1",
                         bundle)
    assert recomputed.stdout.strip() != next(e["streebog256"] for e in manifest["files"] if e["name"] == "content.jsonl")

    # The authority closes the request: the node's copy of the bundle goes with it.
    closed = json.loads((await svyaz(tmp_path, "lawful", "close", request_id, "--as", "@fsb_msk:ru",
                                     "--json")).stdout)
    assert closed["state"] == "closed"
    assert list(shelf(node).iterdir()) == []

    # The audit log holds every step in order, refusal included; the chain verifies.
    steps = [(e["actor"], e["action"], e["outcome"], e["detail"]["step"], e["detail"].get("reason"))
             for e in audit_entries(node, target=request_id) if "step" in e["detail"] and e["outcome"] != "allowed"]
    assert steps == [
        ("@fsb_msk:ru", "lawful.request.submit", "success", "submit", None),
        ("@alice_so:ru", "lawful.request.review", "success", "review", None),
        ("@alice_so:ru", "lawful.request.approve", "success", "approve", None),
        ("@alice_so:ru", "lawful.request.approve", "denied", "approve", "already_approved"),
        ("@boris_so:ru", "lawful.request.approve", "success", "approve", None),
        ("@alice_so:ru", "lawful.request.export", "success", "export", None),
        ("@alice_so:ru", "lawful.request.export", "success", "bundle", None),
        ("@fsb_msk:ru", "lawful.request.download", "success", "deliver", None),
        ("@fsb_msk:ru", "lawful.request.close", "success", "close", None),
        ("@fsb_msk:ru", "lawful.request.close", "success", "bundle_removed", None),
    ]
    [bundle_entry] = audit_entries(node, target=request_id, **{"detail.step": "bundle"})
    assert bundle_entry["detail"]["manifest_streebog256"] == exported["manifest_streebog256"]
    assert "Встречаемся" not in json.dumps(audit_entries(node), default=str, ensure_ascii=False)
    await audit_verified(node, tmp_path)


async def test_refusals_an_unapproved_export_another_authoritys_download_and_a_second_export(node, tmp_path):
    await register_and_login(node, "@ivan:ru")
    people = await staff(node, ("@fsb_msk:ru", AUTHORITY), ("@alice_so:ru", SECURITY_OFFICER),
                         ("@boris_so:ru", SECURITY_OFFICER), ("@mvd_tula:ru", AUTHORITY))
    authority, alice, other = (people[a].tokens for a in ("@fsb_msk:ru", "@alice_so:ru", "@mvd_tula:ru"))
    pending = await call_as(node, authority, "lawful.request.submit", subject="@ivan:ru", categories=["sessions"],
                            since=time.time() - DAY, until=time.time(), deadline=time.time() + DAY, basis=BASIS)
    request_id = await approved_request(node, people, "@ivan:ru", ["sessions"], time.time() - DAY, time.time())

    async def refused(tokens, action, **args) -> str:
        with pytest.raises(RemoteError) as error:
            await call_as(node, tokens, action, **args)
        return error.value.code

    unapproved = await refused(alice, "lawful.request.export", id=pending["id"])
    by_authority = await refused(authority, "lawful.request.export", id=request_id)
    too_early = await refused(authority, "lawful.request.download", id=request_id)
    await call_as(node, alice, "lawful.request.export", id=request_id)
    again = await refused(alice, "lawful.request.export", id=request_id)
    foreign = await refused(other, "lawful.request.download", id=request_id)
    by_officer = await refused(alice, "lawful.request.download", id=request_id)
    listing = await call_as(node, authority, "lawful.request.download", id=request_id)
    sessions = await call_as(node, authority, "lawful.request.download", id=request_id, file="sessions.jsonl",
                             offset=0)

    assert (unapproved, by_authority, too_early) == ("forbidden_transition", "forbidden", "lawful_not_exported")
    assert (again, foreign, by_officer) == ("forbidden_transition", "unknown_request", "forbidden")
    assert listing["state"] == "delivered" and not listing["encrypted"]
    [record] = [json.loads(line) for line in base64.b64decode(sessions["data"]).decode().splitlines()]
    assert sessions["eof"] and (record["address"], record["device"]) == ("10.1.0.1", "test")


async def test_under_an_escrow_policy_the_approving_officers_shares_open_secret_content(
        nursery, stack, test_id, tmp_path):
    escrow_key = PrivateKey.generate(Curve.TC26_256_A)
    policies = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, policies)
    (policies / "ru-escrow.pub.pem").write_bytes(escrow_key.public_key().to_pem())
    (policies / "secret-chats.toml").write_text('[ru]\nmode = "escrow"\nescrow_key = "ru-escrow.pub.pem"\n')
    config = node_config(stack, test_id, tmp_path / "node", rbac__policy_dir=str(policies))
    escrow_node = RunningNode(config, await nursery.start(run, config))
    await until_serving(escrow_node)
    ivan = await register_and_login(escrow_node, "@ivan:ru")
    petr = await register_and_login(escrow_node, "@petr:ru")
    people = await staff(escrow_node, ("@fsb_msk:ru", AUTHORITY), ("@alice_so:ru", SECURITY_OFFICER),
                         ("@boris_so:ru", SECURITY_OFFICER), ("@carol_so:ru", SECURITY_OFFICER))
    shares = [{"region": "ru", "officer": officer, **share.to_dict()} for officer, share in
              zip(("@alice_so:ru", "@boris_so:ru", "@carol_so:ru"), escrow.split(escrow_key, threshold=2, shares=3))]
    since = time.time()
    async with open_node_client(escrow_node.url, access_token=ivan["access_token"]) as i, \
            open_node_client(escrow_node.url, access_token=petr["access_token"]) as p:
        ivan_secret = secret_chats(i, "@ivan:ru", tmp_path / "ivan-device")
        petr_secret = secret_chats(p, "@petr:ru", tmp_path / "petr-device")
        await petr_secret.set_up()
        chat = await ivan_secret.start("@petr:ru")
        await ivan_secret.send(chat, "escrowed: the boat leaves at dawn")
    request_id = await approved_request(escrow_node, people, "@ivan:ru", ["content"], since, time.time() + 1)
    alice = people["@alice_so:ru"].tokens

    async def refused(**args) -> str:
        with pytest.raises(RemoteError) as error:
            await call_as(escrow_node, alice, "lawful.request.export", id=request_id, **args)
        return error.value.code

    not_an_approver = await refused(escrow_shares=[shares[0], shares[2]])
    one_share = await refused(escrow_shares=shares[:1])
    exported = await call_as(escrow_node, alice, "lawful.request.export", id=request_id, escrow_shares=shares[:2])
    listing = await call_as(escrow_node, people["@fsb_msk:ru"].tokens, "lawful.request.download", id=request_id)
    content = await call_as(escrow_node, people["@fsb_msk:ru"].tokens, "lawful.request.download", id=request_id,
                            file="content.jsonl", offset=0)

    assert (not_an_approver, one_share) == ("lawful_escrow_refused", "lawful_escrow_refused")
    assert exported["escrow_opened"] == 1 and listing["state"] == "delivered"
    [record] = [json.loads(line) for line in base64.b64decode(content["data"]).decode().splitlines()]
    assert record["text"] == "escrowed: the boat leaves at dawn" and record["opened"] == "escrow"
    assert record["sealed"]  # the envelope stays, so the authority can check the opening
    [entry] = audit_entries(escrow_node, target=request_id, **{"detail.step": "bundle"})
    assert entry["detail"]["escrow_opened"] == "1"
    assert shares[0]["y"] not in json.dumps(audit_entries(escrow_node), default=str)
