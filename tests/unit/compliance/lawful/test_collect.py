"""What a lawful export collects about a subject (svyaz/compliance/lawful/collect.py), over an
in-memory stand-in for the node's stores."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest

from svyaz.compliance.lawful.collect import (
    SEALED_NOTICE,
    EscrowRefused,
    collect,
    escrow_key_from_shares,
    session_records,
)
from svyaz.compliance.lawful.model import LawfulRequest, LegalBasis
from svyaz.e2e import escrow
from svyaz.identity.ports import SessionRecord
from svyaz.identity.tokens import RefreshFamily
from svyaz.messaging.model import ChatInfo, Message
from svyaz.gost.keys import Curve, PrivateKey

SUBJECT = "@suspect:ru"
DM = "dm/@friend:ru/@suspect:ru"
ABROAD = "dm/@suspect:ru/@zhanna:kz"
SECRET = "sc/@friend:ru/@suspect:ru/0123456789abcdef"
GROUP = "g/ru/00000000000000a1"
LEFT = "g/kz/00000000000000b2"
CHANNEL = "c/ru/00000000000000c3"
BASIS = LegalBasis(kind="court_order", number="1", date="2026-01-01", issuer="court", document_hash="0" * 64)
SINCE, UNTIL = 1000.0, 2000.0


def request(*categories: str) -> LawfulRequest:
    return LawfulRequest(id="lr-ru-0000000000000001", region="ru", authority="@mvd:ru", subject=SUBJECT,
                         categories=categories, since=SINCE, until=UNTIL, deadline=1e10, basis=BASIS,
                         state="approved", approvals=("@o1:ru", "@o2:ru"))


def message(chat: str, seq: int, sender: str, at: float, text: str = "", **extra) -> Message:
    return Message(chat=chat, seq=seq, sender=sender, client_id=f"c{seq:08d}", text=text, sent_at=at, **extra)


def session(n: int, created: float, seen: float, **extra) -> SessionRecord:
    family = RefreshFamily(family_id=f"s{n}", generation=0, token_hash="h", spent_hashes=(), issued_at=created,
                           last_used_at=seen, expires_at=seen + 1e6, idle_s=1e6)
    return SessionRecord(session_id=f"s{n}", account_id=SUBJECT, device=f"phone {n}", user_agent="svyaz/1",
                         address=f"10.0.0.{n}", created_at=created, last_seen_at=seen, refresh=family, **extra)


@dataclass
class Holdings:
    messages_by_chat: dict[str, list[Message]] = field(default_factory=lambda: {
        DM: [message(DM, 1, SUBJECT, 900.0, "before the range"),
             message(DM, 2, "@friend:ru", 1500.0, "hello", reply_to=None),
             message(DM, 3, SUBJECT, 1600.0, "see you", edited_at=1650.0, media="media/abc"),
             message(DM, 4, SUBJECT, 2000.0, "exactly at until: outside")],
        ABROAD: [message(ABROAD, 7, "@zhanna:kz", 1200.0, "салем")],
        SECRET: [message(SECRET, 1, "@friend:ru", 1300.0, sealed="AQID", franking="ZnJhbms=")],
        GROUP: [message(GROUP, 1, "@carol:ru", 1100.0, "group hello"),
                message(GROUP, 2, SUBJECT, 1700.0, "", deleted=True)],
        LEFT: [message(LEFT, 5, "@dana:kz", 1400.0, "not the subject's"),
               message(LEFT, 6, SUBJECT, 1450.0, "mine, before I left")],
    })
    asked: list[str] = field(default_factory=list)

    async def private_chats(self, subject):
        self.asked.append("private_chats")
        return [DM, ABROAD, SECRET, "dm/@anna:ru/@boris:ru", "dm/bad"]  # not the subject's: never read

    async def groups(self, subject):
        self.asked.append("groups")
        return [(GROUP, "member"), (LEFT, None)]

    async def group_info(self, chat):
        return ChatInfo(chat=chat, kind="group", title=f"title of {chat}", owner="@carol:ru", created_at=10.0)

    async def group_members(self, chat, *, limit):
        return [("@carol:ru", "owner"), (SUBJECT, "member")] if chat == GROUP else [("@dana:kz", "owner")]

    async def messages(self, chat, since, until):
        self.asked.append(f"messages {chat}")
        return [m for m in self.messages_by_chat.get(chat, []) if since <= m.sent_at < until]

    async def channels(self, subject):
        return [(CHANNEL, "subscriber")]

    async def channel_info(self, chat):
        return ChatInfo(chat=chat, kind="channel", title="News", owner="@news:ru", created_at=5.0)

    async def blocked_by(self, subject):
        return ["@spammer:ru"]

    async def sessions(self, subject):
        self.asked.append("sessions")
        return [session(1, 100.0, 500.0), session(2, 800.0, 1200.0, methods=("pwd", "otp")),
                session(3, 2500.0, 2600.0), session(4, 1900.0, 1950.0, revoked=True, revoked_at=1950.0,
                                                     revoked_reason="user")]


async def test_only_the_requested_categories_are_read_and_returned():
    holdings = Holdings()

    collected = await collect(request("sessions"), holdings)

    assert list(collected.records) == ["sessions"]
    assert holdings.asked == ["sessions"]
    assert [r["session"] for r in collected.records["sessions"]] == ["s2", "s4"]


async def test_metadata_has_chats_and_messages_in_range_and_no_content():
    collected = await collect(request("metadata"), Holdings())
    records = collected.records["metadata"]
    messages = [(r["chat"], r["seq"]) for r in records if r["record"] == "message"]
    chats = {r["chat"]: r for r in records if r["record"] == "chat"}

    assert messages == [(DM, 2), (DM, 3), (ABROAD, 7), (SECRET, 1), (LEFT, 6), (GROUP, 1), (GROUP, 2)]
    assert not any("text" in r or "sealed" in r for r in records)
    assert chats[DM]["participants"] == ["@friend:ru", SUBJECT]
    assert chats[GROUP]["members"] == [{"account": "@carol:ru", "role": "owner"},
                                       {"account": SUBJECT, "role": "member"}]
    assert (chats[LEFT]["subject_role"], chats[LEFT]["home_region"]) == (None, "kz")
    dm3 = next(r for r in records if r.get("seq") == 3)
    assert (dm3["direction"], dm3["recipients"], dm3["has_media"], dm3["edited_at"]) == (
        "sent", ["@friend:ru"], True, "1970-01-01T00:27:30.000000Z")
    assert next(r for r in records if r["chat"] == SECRET and r["record"] == "message")["end_to_end"] is True


async def test_content_is_opened_text_and_secret_messages_stay_sealed_with_a_notice():
    collected = await collect(request("content", "media"), Holdings())
    content = {(r["chat"], r["seq"]): r for r in collected.records["content"]}

    assert content[(DM, 2)]["text"] == "hello" and content[(ABROAD, 7)]["text"] == "салем"
    assert content[(SECRET, 1)] == {"chat": SECRET, "seq": 1, "sender": "@friend:ru", "sent_at": "1970-01-01T00:21:40.000000Z",
                                    "edited_at": None, "deleted": False, "end_to_end": True, "sealed": "AQID",
                                    "franking": "ZnJhbms=", "notice": SEALED_NOTICE}
    assert (DM, 1) not in content and (DM, 4) not in content and (LEFT, 5) not in content
    assert content[(GROUP, 2)]["deleted"] is True and content[(GROUP, 2)]["text"] == ""
    assert collected.records["media"] == [{"chat": DM, "seq": 3, "sender": SUBJECT,
                                           "sent_at": "1970-01-01T00:26:40.000000Z", "media": "media/abc"}]
    assert any(notice.startswith("content: end-to-end encrypted") for notice in collected.notices)


async def test_contacts_are_peers_in_range_memberships_and_blocks():
    records = (await collect(request("contacts"), Holdings())).records["contacts"]

    peers = [(r["peer"], r["messages_in_range"]) for r in records if r["record"] == "private_peer"]
    memberships = [(r["chat"], r["role"]) for r in records if r["record"] == "membership"]
    assert peers == [("@friend:ru", 2), ("@zhanna:kz", 1), ("@friend:ru", 1)]
    assert memberships == [(GROUP, "member"), (CHANNEL, "subscriber")]  # not the group it left
    assert [r["account"] for r in records if r["record"] == "block"] == ["@spammer:ru"]


def test_sessions_are_those_active_in_the_range():
    sessions = [session(1, 100.0, 999.9), session(2, 2000.0, 2100.0), session(3, 500.0, 1000.0),
                session(4, 1999.0, 1999.5)]
    assert [r["session"] for r in session_records(sessions, SINCE, UNTIL)] == ["s3", "s4"]


# --- escrow shares --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def escrow_key() -> PrivateKey:
    return PrivateKey.generate(Curve.TC26_256_A)


@pytest.fixture(scope="module")
def shares(escrow_key) -> list[dict]:
    split = escrow.split(escrow_key, threshold=2, shares=3)
    return [{"region": "ru", "officer": officer, **share.to_dict()}
            for officer, share in zip(("@o1:ru", "@o2:ru", "@o3:ru"), split)]


def test_the_approving_officers_shares_rebuild_the_escrow_key(escrow_key, shares):
    key_id = escrow.key_id(escrow_key.public_key())

    rebuilt = escrow_key_from_shares(shares[:2], approvers=("@o1:ru", "@o2:ru"), region="ru", escrow_key_id=key_id)

    assert rebuilt.to_bytes() == escrow_key.to_bytes()


@pytest.mark.parametrize("case, expected", [
    ("not an approver", "did not approve"),
    ("one officer twice", "two shares"),
    ("one share", "needs 2"),
    ("strict region", "strict"),
    ("another key", "current escrow key"),
    ("another region", "for region 'by'"),
])
def test_shares_that_may_not_open_anything_are_refused(escrow_key, shares, case, expected):
    key_id = escrow.key_id(escrow_key.public_key())
    given, approvers, region_key = shares[:2], ("@o1:ru", "@o2:ru"), key_id
    if case == "not an approver":
        given = [shares[0], shares[2]]
    elif case == "one officer twice":
        given = [shares[0], {**shares[1], "officer": "@o1:ru"}]
    elif case == "one share":
        given = shares[:1]
    elif case == "strict region":
        region_key = None
    elif case == "another key":
        region_key = "00" * 8
    elif case == "another region":
        given = [shares[0], {**shares[1], "region": "by"}]

    with pytest.raises(EscrowRefused, match=expected):
        escrow_key_from_shares(given, approvers=approvers, region="ru", escrow_key_id=region_key)


async def test_unknown_categories_are_refused():
    from svyaz.compliance.lawful.errors import OutOfScopeCategory

    with pytest.raises(OutOfScopeCategory):
        await collect(replace(request("metadata"), categories=("metadata", "location")), Holdings())
