"""Private chats across a border, in memory: two regions' chats, forwarders and appliers joined
by real signed envelopes, real pinned keys and the real ledger; only Kafka, MirrorMaker 2 and the
stores are stand-ins. The three-node test on the real stack is tests/integration/federation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from svyaz.federation import envelope
from svyaz.federation.envelope import Signer
from svyaz.federation.errors import Malformed, NotPermitted
from svyaz.federation.ledger import InboundLedger, MemoryLedgerStore
from svyaz.federation.trust import PeerKeys, PinnedKey
from svyaz.gost.keys import Curve, PrivateKey
from svyaz.messaging import events
from svyaz.messaging.arrivals import PrivateArrivals
from svyaz.messaging.errors import Blocked, UnknownRecipient, Unreachable
from svyaz.messaging.service import PrivateChats
from svyaz.messaging.writer import SequencedWriter
from svyaz.node.federation.applier import FederationApplier
from svyaz.node.federation.forwarder import Forwarder
from svyaz.node.federation.wire import block_event
from tests.unit.messaging.fakes import (
    Directory,
    MemoryChatList,
    MemoryMessageStore,
    RecordingPublisher,
    TickingClock,
)

ALICE, BORIS, BOB = "@alice:ru", "@boris:ru", "@bob:kz"
EVERYONE = {ALICE, BORIS, BOB}
CHAT = "dm/@alice:ru/@bob:kz"


class MemoryBlocks:
    def __init__(self) -> None:
        self.pairs: set[tuple[str, str]] = set()

    async def blocks(self, blocker: str, account: str) -> bool:
        return (blocker, account) in self.pairs

    async def add(self, blocker: str, account: str, at: float) -> bool:
        new = (blocker, account) not in self.pairs
        self.pairs.add((blocker, account))
        return new

    async def remove(self, blocker: str, account: str) -> bool:
        gone = (blocker, account) in self.pairs
        self.pairs.discard((blocker, account))
        return gone

    async def blocked_by(self, blocker: str) -> list[str]:
        return sorted(account for who, account in self.pairs if who == blocker)


@dataclass
class SealingOutbox:
    """Numbers each (destination, stream) from 1 and seals, like the real outbox, minus Kafka."""

    signer: Signer
    records: list[bytes] = field(default_factory=list)
    seqs: dict[tuple[str, str], int] = field(default_factory=dict)
    numbered: dict[tuple[str, str], int] = field(default_factory=dict)

    async def send(self, *, destination: str, stream: str, kind: str, payload: Mapping[str, Any], event_id: str,
                   created_at_ms: int) -> int:
        seq = self.numbered.get((destination, event_id))
        if seq is None:
            seq = self.seqs[(destination, stream)] = self.seqs.get((destination, stream), 0) + 1
            self.numbered[(destination, event_id)] = seq
        sealed = self.signer.seal(destination=destination, stream=stream, seq=seq, kind=kind, payload=payload,
                                  event_id=event_id, created_at=created_at_ms)
        self.records.append(envelope.encode(sealed))
        return seq


class Region:
    def __init__(self, name: str, accounts: set[str], key: PrivateKey, pinned: list[PinnedKey]) -> None:
        self.name = name
        self.messages = MemoryMessageStore()
        self.chat_list = MemoryChatList()
        self.publisher = RecordingPublisher()
        self.blocks = MemoryBlocks()
        directory = Directory(accounts)
        # What the chats ask: this region's accounts, and what the peer's node says of its own.
        here_and_abroad = Directory(EVERYONE)
        writer = SequencedWriter(self.messages)
        peers = frozenset({"ru", "kz"} - {name})
        self.chats = PrivateChats(region=name, messages=self.messages, chat_list=self.chat_list,
                                  publisher=self.publisher, directory=here_and_abroad, blocks=self.blocks, peers=peers,
                                  writer=writer, clock=TickingClock())
        arrivals = PrivateArrivals(region=name, messages=self.messages, chat_list=self.chat_list,
                                   publisher=self.publisher, writer=writer, blocks=self.blocks)
        self.applier = FederationApplier(region=name, arrivals=arrivals, directory=directory, blocks=self.blocks)
        self.outbox = SealingOutbox(Signer(name, key))
        self.forwarder = Forwarder(region=name, peers=peers, outbox=self.outbox, private_messages=self.messages)
        self.trust = PeerKeys(name, pinned)
        self.ledger = InboundLedger(MemoryLedgerStore())
        self.forwarded = 0

    async def forward_new_events(self) -> None:
        while self.forwarded < len(self.publisher.events):
            await self.forwarder.forward(self.publisher.events[self.forwarded])
            self.forwarded += 1

    async def receive(self, raw: bytes) -> None:
        verified = self.trust.verify(envelope.decode(raw, local_region=self.name))
        admission = await self.ledger.offer(verified)
        for ready in admission.ready:
            await self.applier.apply(ready)
        await self.ledger.commit(admission)

    def texts(self, chat: str = CHAT) -> list[tuple[int, str, str]]:
        return [(m.seq, m.sender, m.text) for m in self.messages.stored(chat)]


@pytest.fixture(scope="module")
def keys() -> dict[str, PrivateKey]:
    return {name: PrivateKey.generate(Curve.TC26_256_A) for name in ("ru", "kz")}


@pytest.fixture
def ru(keys) -> Region:
    return Region("ru", {ALICE, BORIS}, keys["ru"], [PinnedKey("kz", keys["kz"].public_key())])


@pytest.fixture
def kz(keys) -> Region:
    return Region("kz", {BOB}, keys["kz"], [PinnedKey("ru", keys["ru"].public_key())])


async def carry(*regions: Region) -> int:
    """Forward every new local event and deliver every record to its destination, as MirrorMaker 2
    would, until nothing moves. Returns how many records crossed."""
    by_name = {region.name: region for region in regions}
    crossed = 0
    while True:
        for region in regions:
            await region.forward_new_events()
        pending = [(region, raw) for region in regions for raw in region.outbox.records]
        if not pending:
            return crossed
        for region, _ in pending:
            region.outbox.records.clear()
        for _, raw in pending:
            destination = envelope.decode(raw, local_region=None).destination  # type: ignore[arg-type]
            await by_name[destination].receive(raw)
            crossed += 1


async def test_a_message_to_a_resident_of_another_region_is_stored_on_both_home_nodes(ru, kz):
    sent = await ru.chats.send(ALICE, to=BOB, text="привет из Москвы", client_id="client-0001")
    await carry(ru, kz)

    assert ru.texts() == kz.texts() == [(1, ALICE, "привет из Москвы")]
    arrived = kz.publisher.events[-1]
    assert (arrived.kind, arrived.origin, arrived.recipients) == (events.MESSAGE_CREATED, "ru", (ALICE, BOB))
    assert kz.messages.stored(CHAT)[0].sent_at == pytest.approx(sent.sent_at, abs=0.001)
    # Bob's chat list is kept on his node only, Alice's on hers.
    assert kz.chat_list.entry(BOB, CHAT).preview == "привет из Москвы"
    assert kz.chat_list.entry(ALICE, CHAT) is None and ru.chat_list.entry(BOB, CHAT) is None


async def test_the_answer_comes_back_and_nothing_is_echoed(ru, kz):
    await ru.chats.send(ALICE, to=BOB, text="как дела?", client_id="client-0001")
    await carry(ru, kz)
    await kz.chats.send(BOB, to=ALICE, text="жақсы, рахмет", client_id="client-0002")
    crossed = await carry(ru, kz)

    assert crossed == 1, "the arrival in ru must not be sent back to kz"
    assert ru.texts() == kz.texts() == [(1, ALICE, "как дела?"), (2, BOB, "жақсы, рахмет")]


async def test_messages_that_cross_keep_each_senders_order_though_numbers_differ(ru, kz):
    await ru.chats.send(ALICE, to=BOB, text="a1", client_id="client-a001")
    await kz.chats.send(BOB, to=ALICE, text="b1", client_id="client-b001")
    await ru.chats.send(ALICE, to=BOB, text="a2", client_id="client-a002")
    await carry(ru, kz)

    assert [text for _, _, text in ru.texts()] == ["a1", "a2", "b1"]
    assert [text for _, _, text in kz.texts()] == ["b1", "a1", "a2"]


async def test_a_reply_edit_and_deletion_find_the_same_message_on_the_other_node(ru, kz):
    await kz.chats.send(BOB, to=ALICE, text="first", client_id="client-b001")
    await ru.chats.send(ALICE, to=BOB, text="mine", client_id="client-a001")   # ru seq 1, kz seq 2
    await carry(ru, kz)
    await ru.chats.send(ALICE, to=BOB, text="about yours", client_id="client-a002", reply_to=2)
    await ru.chats.edit(ALICE, chat=CHAT, seq=1, text="mine, edited")
    await carry(ru, kz)

    on_kz = {m.client_id: m for m in kz.messages.stored(CHAT)}
    assert on_kz["client-a002"].reply_to == on_kz["client-b001"].seq == 1
    assert on_kz["client-a001"].text == "mine, edited" and on_kz["client-a001"].edited_at is not None

    await ru.chats.delete(ALICE, chat=CHAT, seq=1, for_everyone=True)
    await carry(ru, kz)
    assert kz.messages.stored(CHAT)[1].deleted and kz.messages.stored(CHAT)[1].text == ""


async def test_a_read_receipt_moves_the_readers_cursor_on_the_senders_node(ru, kz):
    for n in range(3):
        await ru.chats.send(ALICE, to=BOB, text=f"m{n}", client_id=f"client-a00{n}")
    await kz.chats.send(BOB, to=ALICE, text="crossing", client_id="client-b001")   # kz seq 1
    await carry(ru, kz)
    await kz.chats.mark(BOB, chat=CHAT, seq=4, kind="read")   # kz's 4th is ru's 3rd: Alice's m2
    await carry(ru, kz)

    assert await ru.messages.cursor(CHAT, BOB, "read") == 3
    receipt = ru.publisher.events[-1]
    assert (receipt.kind, receipt.actor, receipt.seq, receipt.origin) == (events.RECEIPT_READ, BOB, 3, "kz")


async def test_redelivered_records_change_nothing(ru, kz):
    await ru.chats.send(ALICE, to=BOB, text="once", client_id="client-0001")
    await ru.forward_new_events()
    (raw,) = ru.outbox.records
    for _ in range(3):
        await kz.receive(raw)
    assert kz.texts() == [(1, ALICE, "once")]
    assert [e.kind for e in kz.publisher.events] == [events.MESSAGE_CREATED]


async def test_a_conversation_of_one_region_never_leaves_it(ru, kz):
    await ru.chats.send(ALICE, to=BORIS, text="только между нами", client_id="client-0001")
    assert await carry(ru, kz) == 0
    assert kz.messages.messages == {}


async def test_a_region_without_federation_refuses_the_send_clearly(keys):
    alone = Region("ru", {ALICE}, keys["ru"], [])
    alone.chats = PrivateChats(region="ru", messages=alone.messages, chat_list=alone.chat_list,
                               publisher=alone.publisher, directory=Directory({ALICE}))
    with pytest.raises(Unreachable, match="does not federate with"):
        await alone.chats.send(ALICE, to=BOB, text="hello", client_id="client-0001")
    assert alone.messages.messages == {}


async def test_an_account_its_home_node_does_not_know_is_refused_before_anything_is_stored(ru, kz):
    with pytest.raises(UnknownRecipient):
        await ru.chats.send(ALICE, to="@nobody:kz", text="hello", client_id="client-0001")
    assert ru.messages.messages == {} and ru.publisher.events == []


async def test_a_message_already_on_its_way_when_the_recipient_blocks_is_dropped(ru, kz):
    await ru.chats.send(ALICE, to=BOB, text="hello", client_id="client-0001")
    await kz.blocks.add(BOB, ALICE, 0.0)
    await carry(ru, kz)
    assert kz.texts() == []


async def test_a_block_made_abroad_is_told_to_the_blocked_accounts_node_which_refuses_the_send(ru, kz):
    await kz.outbox.send(destination="ru", **dict(zip(("stream", "kind", "payload"), block_event(BOB, ALICE, True))),
                         event_id="0" * 32, created_at_ms=1_700_000_000_000)
    await carry(ru, kz)
    with pytest.raises(Blocked):
        await ru.chats.send(ALICE, to=BOB, text="hello", client_id="client-0001")

    await kz.outbox.send(destination="ru", **dict(zip(("stream", "kind", "payload"), block_event(BOB, ALICE, False))),
                         event_id="1" * 32, created_at_ms=1_700_000_000_001)
    await carry(ru, kz)
    await ru.chats.send(ALICE, to=BOB, text="hello again", client_id="client-0002")


@pytest.mark.parametrize(("blocker", "blocked", "stream"), [
    (BORIS, ALICE, None),                 # kz speaks for a ru resident
    (BOB, "@dana:kz", None),              # the blocked account does not live in ru
    (BOB, ALICE, "block/@bob:kz/@boris:ru"),  # the stream names another pair
])
async def test_a_block_the_origin_may_not_tell_is_refused(ru, kz, blocker, blocked, stream):
    own_stream, kind, payload = block_event(blocker, blocked, True)
    with pytest.raises((NotPermitted, Malformed)):
        await ru.receive(sealed(kz.outbox.signer, stream=stream or own_stream, kind=kind, payload=payload,
                                destination="ru"))
    assert ru.blocks.pairs == set()


# --- what an origin may not do ------------------------------------------------------------------

def sealed(signer: Signer, *, stream: str, kind: str, payload: dict, seq: int = 1, destination: str = "kz") -> bytes:
    return envelope.encode(signer.seal(destination=destination, stream=stream, seq=seq, kind=kind, payload=payload,
                                       created_at=1_700_000_000_000))


GOOD = {"sender": ALICE, "client_id": "client-0001", "text": "hi", "sent_at_ms": 1_700_000_000_000}


@pytest.mark.parametrize(("stream", "payload", "refusal"), [
    # ru speaks for a kz resident
    (CHAT, {**GOOD, "sender": BOB}, NotPermitted),
    # a chat with nobody in kz: kz must not store it
    ("dm/@alice:ru/@boris:ru", GOOD, NotPermitted),
    # a chat with nobody in ru: ru may not change it
    ("dm/@bob:kz/@dana:kz", {**GOOD, "sender": "@bob:kz"}, NotPermitted),
    # the recipient does not exist in kz
    ("dm/@alice:ru/@nobody:kz", GOOD, NotPermitted),
    ("not a chat", GOOD, Malformed),
    (CHAT, {**GOOD, "text": ""}, Malformed),
    (CHAT, {**GOOD, "text": "x" * 5000}, Malformed),
    (CHAT, {**GOOD, "client_id": "bad id!"}, Malformed),
    (CHAT, {**GOOD, "sent_at_ms": 1.5}, Malformed),
    (CHAT, {**GOOD, "sealed": "AAAA"}, Malformed),
    (CHAT, {**GOOD, "extra": 1}, Malformed),
    (CHAT, {k: v for k, v in GOOD.items() if k != "text"}, Malformed),
    (CHAT, {**GOOD, "reply_to": {"sender": "@eve:ru", "client_id": "client-0009"}}, Malformed),
])
async def test_an_event_the_origin_may_not_send_is_refused_and_changes_nothing(ru, kz, stream, payload, refusal):
    with pytest.raises(refusal):
        await kz.receive(sealed(ru.outbox.signer, stream=stream, kind="message.created", payload=payload))
    assert kz.messages.messages == {} and kz.publisher.events == []


async def test_an_unknown_kind_is_refused(ru, kz):
    with pytest.raises(Malformed, match="unknown kind"):
        await kz.receive(sealed(ru.outbox.signer, stream=CHAT, kind="message.pinned", payload={}))
