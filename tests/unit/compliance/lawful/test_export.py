"""The export and download use cases (`LawfulExports`) over the workflow's use cases with an
in-memory request store, a small stand-in for the node's data, and a real shelf in a temporary
directory (real GOST signatures)."""

from __future__ import annotations

import base64
import os
import time

import pytest
import trio

from svyaz.compliance.lawful.bundle import verify_bundle
from svyaz.compliance.lawful.collect import EscrowRefused
from svyaz.compliance.lawful.errors import ForbiddenTransition, StepContended, UnknownRequest
from svyaz.compliance.lawful.export import CHUNK_BYTES, BadRecipientKey, LawfulExports, NotExported
from svyaz.compliance.lawful.export_key import CURVE
from svyaz.compliance.lawful.model import CLOSED, DELIVERED, EXPIRED, EXPORTED, LawfulRequest
from svyaz.compliance.lawful.shelf import FileShelf
from svyaz.compliance.lawful.workflow import Actor, Draft, LawfulRequests
from svyaz.gost.keys import PrivateKey
from svyaz.messaging.model import Message
from tests.unit.compliance.lawful.fakes import Clock, MemoryStore
from tests.unit.compliance.lawful.samples import (
    ALICE,
    AUTHORITY,
    BASIS,
    BORIS,
    DEADLINE,
    NODE_RU,
    NOW,
    OTHER_AUTHORITY,
)
from tests.unit.rbac.fakes import RecordingSink

SUBJECT = "@ivan:ru"
DM = "dm/@ivan:ru/@petr:ru"


class Holdings:
    """Two messages, one of them long enough to need several download chunks."""

    async def private_chats(self, subject):
        return [DM]

    async def groups(self, subject):
        return []

    async def messages(self, chat, since, until):
        long = "д" * (CHUNK_BYTES * 2)
        return [Message(chat=DM, seq=1, sender=SUBJECT, client_id="c0000001", text="hello", sent_at=NOW - 50),
                Message(chat=DM, seq=2, sender="@petr:ru", client_id="c0000002", text=long, sent_at=NOW - 40)]

    async def channels(self, subject):
        return []

    async def blocked_by(self, subject):
        return []

    async def sessions(self, subject):
        return []


@pytest.fixture(scope="module")
def node_key() -> PrivateKey:
    return PrivateKey.generate(CURVE)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def world(tmp_path, node_key, clock):
    audit = RecordingSink()
    requests = LawfulRequests(MemoryStore(), audit, region="ru", account_exists=_exists, clock=clock)
    shelf = FileShelf(tmp_path / "exports", node_key, trio.CapacityLimiter(2))
    exports = LawfulExports(requests, Holdings(), shelf, audit, region="ru", clock=clock)
    return requests, exports, audit, tmp_path / "exports"


async def _exists(account: str) -> bool:
    return account in (SUBJECT, "@petr:ru")


async def approved(requests: LawfulRequests, *categories: str) -> LawfulRequest:
    draft = Draft(subject=SUBJECT, categories=categories or ("metadata", "content"), since=NOW - 86_400,
                  until=NOW, deadline=DEADLINE, basis=BASIS)
    request = await requests.submit(AUTHORITY, draft, call_id="c1")
    await requests.review(ALICE, request.id, call_id="c2")
    await requests.approve(ALICE, request.id, call_id="c3")
    return await requests.approve(BORIS, request.id, call_id="c4")


async def test_an_approved_request_is_exported_and_its_authority_downloads_it(world, node_key, tmp_path):
    requests, exports, audit, shelf_dir = world
    request = await approved(requests)

    exported = await exports.export(ALICE, request.id, call_id="c5")
    listing = await exports.listing(AUTHORITY, request.id, call_id="c6")
    copied = tmp_path / "authority" / request.id
    copied.mkdir(parents=True)
    chunks = 0
    for entry in listing.files:
        offset, data = 0, b""
        while True:
            chunk = await exports.chunk(AUTHORITY, request.id, entry.name, offset, call_id="c7")
            data, offset, chunks = data + chunk.data, offset + len(chunk.data), chunks + 1
            assert len(base64.b64encode(chunk.data)) < 48 * 1024  # a frame well under 64 KiB
            if chunk.eof:
                break
        (copied / entry.name).write_bytes(data)
    again = await exports.listing(AUTHORITY, request.id, call_id="c8")

    assert exported.request.state == EXPORTED
    assert (listing.request.state, again.request.state) == (DELIVERED, DELIVERED)
    assert [entry.name for entry in listing.files] == ["manifest.json", "manifest.sig", "node-export.pub.pem",
                                                       "metadata.jsonl", "content.jsonl"]
    assert chunks > len(listing.files)  # content.jsonl took several chunks
    assert verify_bundle(copied, node_key.public_key().to_pem()).ok
    assert sorted(path.name for path in shelf_dir.iterdir()) == [request.id]  # no partial left behind
    bundle_entry = next(e for e in audit.events if e.detail.get("step") == "bundle")
    assert bundle_entry.detail["manifest_streebog256"] == exported.bundle.manifest_streebog256
    assert bundle_entry.outcome == "success" and bundle_entry.target == request.id
    steps = [(e.action, e.detail.get("step"), e.outcome) for e in audit.events if e.target == request.id]
    assert ("lawful.request.export", "export", "success") in steps
    assert ("lawful.request.download", "deliver", "success") in steps


async def test_only_an_approved_request_is_exported_and_only_once(world):
    requests, exports, audit, shelf_dir = world
    request = await approved(requests)
    draft = Draft(subject=SUBJECT, categories=("metadata",), since=NOW - 10, until=NOW, deadline=DEADLINE, basis=BASIS)
    waiting = await requests.submit(AUTHORITY, draft, call_id="x")

    await exports.export(ALICE, request.id, call_id="e1")
    with pytest.raises(ForbiddenTransition, match="exported"):
        await exports.export(BORIS, request.id, call_id="e2")
    with pytest.raises(ForbiddenTransition, match="submitted"):
        await exports.export(ALICE, waiting.id, call_id="e3")
    with pytest.raises(UnknownRequest):
        await exports.export(ALICE, "lr-ru-ffffffffffffffff", call_id="e4")

    assert sorted(path.name for path in shelf_dir.iterdir()) == [request.id]
    denied = [(e.target, e.detail["reason"]) for e in audit.events if e.outcome == "denied"]
    assert denied == [(request.id, "forbidden_transition"), (waiting.id, "forbidden_transition"),
                      ("lr-ru-ffffffffffffffff", "unknown_request")]


async def test_a_bundle_is_the_submitting_authoritys_alone_and_only_once_exported(world):
    requests, exports, audit, _ = world
    request = await approved(requests)

    with pytest.raises(NotExported, match="approved"):
        await exports.listing(AUTHORITY, request.id, call_id="d1")
    await exports.export(ALICE, request.id, call_id="d2")
    with pytest.raises(UnknownRequest):
        await exports.listing(OTHER_AUTHORITY, request.id, call_id="d3")
    with pytest.raises(UnknownRequest):
        await exports.chunk(OTHER_AUTHORITY, request.id, "content.jsonl", 0, call_id="d4")
    with pytest.raises(UnknownRequest):  # an officer exports, but does not take the bundle away
        await exports.listing(ALICE, request.id, call_id="d5")
    with pytest.raises(NotExported, match="no file"):
        await exports.chunk(AUTHORITY, request.id, "../../etc/passwd", 0, call_id="d6")

    assert (await requests.find(request.id)).state == EXPORTED  # none of the refusals delivered it


async def test_an_export_encrypted_to_the_authority_is_handed_out_as_one_file(world):
    requests, exports, _, shelf_dir = world
    request = await approved(requests)
    authority_key = PrivateKey.generate(CURVE)

    exported = await exports.export(ALICE, request.id, call_id="k1", recipient_pem=authority_key.public_key().to_pem())
    listing = await exports.listing(AUTHORITY, request.id, call_id="k2")

    assert exported.recipient == authority_key.public_key().fingerprint()
    assert listing.encrypted and [entry.name for entry in listing.files] == [f"{request.id}.svx"]
    with pytest.raises(NotExported, match="no file"):
        await exports.chunk(AUTHORITY, request.id, "content.jsonl", 0, call_id="k3")


async def test_a_bad_recipient_key_or_needless_escrow_shares_are_refused_before_anything_is_read(world):
    requests, exports, _, shelf_dir = world
    request = await approved(requests, "metadata")

    with pytest.raises(BadRecipientKey):
        await exports.export(ALICE, request.id, call_id="b1", recipient_pem=b"-----BEGIN PUBLIC KEY-----\nAAAA\n")
    with pytest.raises(EscrowRefused, match="asks for no content"):
        await exports.export(ALICE, request.id, call_id="b2", escrow_shares=[{"officer": ALICE.id}])

    assert (await requests.find(request.id)).state == "approved"
    assert not shelf_dir.exists() or not any(shelf_dir.iterdir())


async def test_a_refused_export_step_leaves_no_bundle(world):
    requests, exports, _, shelf_dir = world
    request = await approved(requests)
    store = requests._store
    store.refuse_appends = True  # every attempt to store the step loses a race

    with pytest.raises(StepContended):
        await exports.export(ALICE, request.id, call_id="r1")

    assert not any(shelf_dir.iterdir())


# --- the bundle leaves the shelf: at close, and in the node's sweep -------------------------------

async def delivered(requests: LawfulRequests, exports: LawfulExports, **export) -> LawfulRequest:
    request = await approved(requests)
    await exports.export(ALICE, request.id, call_id="x1", **export)
    return (await exports.listing(AUTHORITY, request.id, call_id="x2")).request


async def test_closing_a_delivered_request_takes_its_bundle_off_the_shelf(world):
    requests, exports, audit, shelf_dir = world
    request = await delivered(requests, exports, recipient_pem=PrivateKey.generate(CURVE).public_key().to_pem())
    on_shelf = sorted(path.name for path in shelf_dir.iterdir())

    closed = await exports.close(AUTHORITY, request.id, call_id="z1")
    with pytest.raises(NotExported, match="closed"):
        await exports.listing(AUTHORITY, request.id, call_id="z2")
    swept = await exports.sweep(call_id="z3")

    assert on_shelf == [request.id, f"{request.id}.svx"] and closed.state == CLOSED
    assert list(shelf_dir.iterdir()) == []
    assert swept.removed == [] and swept.expired == []
    entries = [(e.actor, e.action, e.detail.get("step")) for e in audit.events
               if e.target == request.id and e.outcome == "success"]
    assert entries[-2:] == [(AUTHORITY.id, "lawful.request.close", "close"),
                            (AUTHORITY.id, "lawful.request.close", "bundle_removed")]   # once, not by the sweep


async def test_a_refused_close_leaves_the_bundle_where_it_is(world):
    requests, exports, _, shelf_dir = world
    request = await approved(requests)
    await exports.export(ALICE, request.id, call_id="y1")

    with pytest.raises(ForbiddenTransition, match="exported"):   # not delivered yet
        await exports.close(AUTHORITY, request.id, call_id="y2")

    assert [path.name for path in shelf_dir.iterdir()] == [request.id]


async def test_the_sweep_expires_overdue_requests_and_removes_their_bundles(world, clock):
    requests, exports, audit, shelf_dir = world
    exported = await approved(requests)
    await exports.export(ALICE, exported.id, call_id="s1")
    answered = await delivered(requests, exports)
    waiting = await approved(requests)
    clock.now = DEADLINE + 1

    swept = await exports.sweep(call_id="s2")
    again = await exports.sweep(call_id="s3")

    # A delivered request has been answered: it waits for `close`, bundle and all.
    assert swept.expired == [exported.id, waiting.id] and swept.removed == [exported.id]
    assert (again.expired, again.removed) == ([], [])
    assert [path.name for path in shelf_dir.iterdir()] == [answered.id]
    assert (await requests.find(exported.id)).state == EXPIRED
    assert (await requests.find(answered.id)).state == DELIVERED
    [removal] = [e for e in audit.events if e.detail.get("step") == "bundle_removed"]
    assert (removal.actor, removal.role, removal.action, removal.target, removal.request_id) == (
        NODE_RU.id, "node", "lawful.request.sweep", exported.id, "s2")
    assert removal.detail["state"] == EXPIRED


async def test_the_sweep_finishes_what_a_crash_left_on_the_shelf(world):
    requests, exports, audit, shelf_dir = world
    request = await delivered(requests, exports)
    await requests.close(AUTHORITY, request.id, call_id="c1")   # the node stopped before the removal
    (shelf_dir / ".removing-0123456789abcdef").mkdir()          # ...or in the middle of one
    (shelf_dir / ".removing-0123456789abcdef" / "content.jsonl").write_text("{}\n")
    stale, fresh = shelf_dir / ".partial-00000000000000aa", shelf_dir / ".partial-00000000000000bb"
    stale.mkdir(), fresh.mkdir()
    os.utime(stale, (time.time() - 2 * 3600,) * 2)               # an export killed two hours ago
    stranger = shelf_dir / "lr-ru-ffffffffffffffff"              # not a request of this store
    stranger.mkdir()

    swept = await exports.sweep(call_id="c2")

    assert swept.removed == [request.id] and swept.unknown == [stranger.name]
    # A young partial may be an export another process is writing right now.
    assert sorted(path.name for path in shelf_dir.iterdir()) == [fresh.name, stranger.name]
    [removal] = [e for e in audit.events if e.detail.get("step") == "bundle_removed"]
    assert (removal.actor, removal.target, removal.detail["state"]) == (NODE_RU.id, request.id, CLOSED)
