"""What this node holds about a request's subject, per category, within the request's time range, as
JSON-ready records (one per line of the bundle's `<category>.jsonl`; docs/compliance.md).

    metadata   one `chat` record per conversation with messages in the range (who takes part, as
               stored: a private chat's two participants, a group's members and roles), then one
               `message` record per message the subject sent or received there: chat, seq,
               sender, recipients, times, flags. Never content.
    content    per message: its text and links, opened from at-rest encryption by the store
               adapter. A secret chat's (or secret group's) message is its sealed envelope (base64)
               with a notice that the node cannot read it; `open_escrowed` may open it later.
    media      per message carrying a media reference: the reference.
    contacts   the subject's private-chat peers with messages in the range, its group and channel
               memberships and the accounts it blocks (memberships and blocks as of the export:
               the store keeps no history of them).
    sessions   the subject's sessions active at some time in the range (revoked ones too): device,
               client, sign-in address, created, last seen, revoked.

Only the categories asked for are read, only messages whose `sent_at` lies in [since, until)
(`since` included, `until` not: a range ending at midnight holds nothing of the next day), and
only what this node stores: for a conversation across a border that is this node's copy, and
nothing is asked of another region's node.

Which conversations: the subject's private and secret chats (its chat list), the groups it belongs
to (all their messages in the range: a member reads a group's whole history), and groups it wrote
in but has left (only its own messages there: when it left is not stored). Channels are
broadcasts, not conversations: only the membership is exported (contacts).

Escrowed secret messages: `escrow_key_from_shares` rebuilds the region's escrow key from officers'
shares (k of n) and `open_escrowed` opens the content records with it. Neither is called by
`collect`; the export calls them only when it is given shares.

Pure apart from the ports (async, implemented over the node's store adapters).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from svyaz.compliance.lawful.bundle import utc
from svyaz.compliance.lawful.model import CATEGORIES, LawfulRequest
from svyaz.e2e import envelope as wire
from svyaz.e2e import escrow, session
from svyaz.e2e import group as secret_group
from svyaz.e2e.errors import SecretChatError
from svyaz.compliance.lawful.errors import LawfulError, OutOfScopeCategory
from svyaz.gost.keys import PrivateKey
from svyaz.identity.ports import SessionRecord
from svyaz.messaging.errors import InvalidMessage
from svyaz.messaging.ids import is_private, is_secret, private_participants
from svyaz.messaging.model import ChatInfo, Message, SECRET_GROUP

SEALED_NOTICE = ("end-to-end encrypted: this node holds only the sealed envelope and no key that opens it; "
                 "the text is not available from the operator")
ESCROW_OPENED = "opened with the region's escrow key, rebuilt from {count} officers' shares after two approvals"
NO_WRAP_NOTICE = ("end-to-end encrypted and sent without an escrow wrap (under a strict policy, or from a "
                  "strict region): it cannot be opened here")
CONTROL_NOTICE = "a key-distribution message between the devices, not a person's text; its body is not exported"
MEDIA_NOTICE = "media references only: this node's store holds no media files to export"
MEMBERS_LIMIT = 100_000


class EscrowRefused(LawfulError):
    """Shares that cannot open escrowed messages for this request; says why, never a share."""

    code = "lawful_escrow_refused"


class SubjectHoldings(Protocol):
    """What the node stores, read through its store adapters (svyaz/node/lawful_export.py)."""

    async def private_chats(self, subject: str) -> list[str]:
        """The private and secret chats the subject takes part in, as stored here."""

    async def groups(self, subject: str) -> list[tuple[str, str | None]]:
        """(group, the subject's role) for the groups it belongs to, and (group, None) for groups it
        wrote in but no longer belongs to."""

    async def group_info(self, chat: str) -> ChatInfo | None: ...

    async def group_members(self, chat: str, *, limit: int) -> list[tuple[str, str]]: ...

    async def messages(self, chat: str, since: float, until: float) -> list[Message]:
        """The chat's stored messages sent in [since, until), content opened, by seq."""

    async def channels(self, subject: str) -> list[tuple[str, str]]:
        """(channel, role) for the channels the subject belongs to."""

    async def channel_info(self, chat: str) -> ChatInfo | None: ...

    async def blocked_by(self, subject: str) -> list[str]: ...

    async def sessions(self, subject: str) -> list[SessionRecord]:
        """All the subject's sessions, revoked ones included."""


@dataclass(frozen=True)
class Conversation:
    chat: str
    kind: str                    # private, secret, group or secret_group
    messages: tuple[Message, ...]
    info: ChatInfo | None = None
    members: tuple[tuple[str, str], ...] = ()
    subject_role: str | None = None


@dataclass
class Collected:
    records: dict[str, list[dict[str, Any]]]
    notices: list[str] = field(default_factory=list)


async def collect(request: LawfulRequest, holdings: SubjectHoldings) -> Collected:
    """The records of every category `request` asks for, and notices about what they cannot hold."""
    wanted = [category for category in CATEGORIES if category in request.categories]
    unknown = set(request.categories) - set(CATEGORIES)
    if unknown:
        raise OutOfScopeCategory(f"request {request.id} asks for unknown categories {sorted(unknown)}")
    subject, since, until = request.subject, request.since, request.until
    conversations: list[Conversation] = []
    if set(wanted) & {"metadata", "content", "media", "contacts"}:
        conversations = await _conversations(holdings, subject, since, until,
                                             with_members="metadata" in wanted)
    collected = Collected(records={})
    for category in wanted:
        if category == "metadata":
            collected.records[category] = metadata_records(subject, conversations)
        elif category == "content":
            collected.records[category] = content_records(conversations)
            if any(message.sealed is not None for c in conversations for message in c.messages):
                collected.notices.append(f"content: {SEALED_NOTICE}")
        elif category == "media":
            collected.records[category] = media_records(conversations)
            collected.notices.append(f"media: {MEDIA_NOTICE}")
        elif category == "contacts":
            collected.records[category] = await contact_records(holdings, subject, conversations)
            collected.notices.append("contacts: group and channel memberships and blocks are as of the export; "
                                     "the store keeps no history of them")
        elif category == "sessions":
            collected.records[category] = session_records(await holdings.sessions(subject), since, until)
    return collected


async def _conversations(holdings: SubjectHoldings, subject: str, since: float, until: float, *,
                         with_members: bool) -> list[Conversation]:
    found = []
    for chat in sorted(set(await holdings.private_chats(subject))):
        if not _takes_part(subject, chat):
            continue  # only the subject's own chats, whatever the index says
        messages = tuple(await holdings.messages(chat, since, until))
        if messages:
            found.append(Conversation(chat, "secret" if is_secret(chat) else "private", messages))
    for chat, role in sorted(set(await holdings.groups(subject)), key=lambda pair: pair[0]):
        messages = tuple(m for m in await holdings.messages(chat, since, until)
                         if role is not None or m.sender == subject)
        if not messages:
            continue
        info = await holdings.group_info(chat)
        members = tuple(await holdings.group_members(chat, limit=MEMBERS_LIMIT)) if with_members else ()
        kind = SECRET_GROUP if info is not None and info.secret else "group"
        found.append(Conversation(chat, kind, messages, info=info, members=members, subject_role=role))
    return found


def _takes_part(subject: str, chat: str) -> bool:
    try:
        return is_private(chat) and subject in private_participants(chat)
    except InvalidMessage:
        return False


def metadata_records(subject: str, conversations: Iterable[Conversation]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for conversation in conversations:
        chat: dict[str, Any] = {"record": "chat", "chat": conversation.chat, "kind": conversation.kind}
        if conversation.info is None and conversation.kind in ("private", "secret"):
            chat["participants"] = list(private_participants(conversation.chat))
        else:
            info = conversation.info
            chat.update({
                "title": info.title if info else None, "owner": info.owner if info else None,
                "created_at": utc(info.created_at) if info else None,
                "home_region": conversation.chat.split("/")[1],
                "members": [{"account": account, "role": role} for account, role in conversation.members],
                "members_truncated": len(conversation.members) >= MEMBERS_LIMIT,
                "subject_role": conversation.subject_role,
            })
        records.append(chat)
        for message in conversation.messages:
            record: dict[str, Any] = {
                "record": "message", "chat": message.chat, "seq": message.seq, "sender": message.sender,
                "direction": "sent" if message.sender == subject else "received",
                "sent_at": utc(message.sent_at), "sent_at_unix": message.sent_at,
                "edited_at": utc(message.edited_at), "deleted": message.deleted,
                "reply_to": message.reply_to, "forwarded_from": message.forwarded_from,
                "has_media": message.media is not None, "end_to_end": message.sealed is not None,
                "hidden_for": list(message.hidden_for),
            }
            if conversation.kind in ("private", "secret"):
                record["recipients"] = [p for p in private_participants(message.chat) if p != message.sender]
            else:
                record["recipients"] = "the group's members (its chat record)"
            records.append(record)
    return records


def content_records(conversations: Iterable[Conversation]) -> list[dict[str, Any]]:
    records = []
    for conversation in conversations:
        for message in conversation.messages:
            record: dict[str, Any] = {"chat": message.chat, "seq": message.seq, "sender": message.sender,
                                      "sent_at": utc(message.sent_at), "edited_at": utc(message.edited_at),
                                      "deleted": message.deleted}
            if message.sealed is not None:
                record.update({"end_to_end": True, "sealed": message.sealed, "franking": message.franking,
                               "notice": SEALED_NOTICE})
            else:
                record.update({"end_to_end": False, "text": message.text, "links": list(message.links)})
            records.append(record)
    return records


def media_records(conversations: Iterable[Conversation]) -> list[dict[str, Any]]:
    return [{"chat": message.chat, "seq": message.seq, "sender": message.sender, "sent_at": utc(message.sent_at),
             "media": message.media}
            for conversation in conversations for message in conversation.messages if message.media is not None]


async def contact_records(holdings: SubjectHoldings, subject: str,
                          conversations: Sequence[Conversation]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for conversation in conversations:
        if conversation.kind not in ("private", "secret"):
            continue
        times = [message.sent_at for message in conversation.messages]
        [peer] = [p for p in private_participants(conversation.chat) if p != subject]
        records.append({"record": "private_peer", "peer": peer, "chat": conversation.chat, "kind": conversation.kind,
                        "messages_in_range": len(times), "first_at": utc(min(times)), "last_at": utc(max(times))})
    for chat, role in sorted(await holdings.groups(subject)):
        if role is None:
            continue
        info = await holdings.group_info(chat)
        records.append({"record": "membership", "chat": chat, "kind": info.kind if info else "group",
                        "title": info.title if info else None, "role": role})
    for chat, role in sorted(await holdings.channels(subject)):
        info = await holdings.channel_info(chat)
        records.append({"record": "membership", "chat": chat, "kind": info.kind if info else "channel",
                        "title": info.title if info else None, "role": role})
    for account in sorted(await holdings.blocked_by(subject)):
        records.append({"record": "block", "account": account})
    return records


def session_records(sessions: Iterable[SessionRecord], since: float, until: float) -> list[dict[str, Any]]:
    """Sessions active at some moment of [since, until): begun before `until`, seen (or ended) since `since`."""
    records = []
    for s in sorted(sessions, key=lambda s: (s.created_at, s.session_id)):
        ended = s.revoked_at if s.revoked_at is not None else s.last_seen_at
        if s.created_at >= until or max(s.last_seen_at, ended) < since:
            continue
        records.append({"session": s.session_id, "device": s.device, "user_agent": s.user_agent,
                        "address": s.address, "created_at": utc(s.created_at), "last_seen_at": utc(s.last_seen_at),
                        "second_factor": "otp" in s.methods,
                        "methods": list(s.methods), "revoked_at": utc(s.revoked_at),
                        "revoked_reason": s.revoked_reason})
    return records


# --- escrow (only with officers' shares) ------------------------------------------------------------

def escrow_key_from_shares(shares: Sequence[Mapping[str, Any]], *, approvers: Sequence[str],
                           region: str, escrow_key_id: str | None) -> PrivateKey:
    """The region's escrow private key rebuilt from `shares` (the files `svyaz secret escrow-keygen`
    hands each officer: region, officer, key_id, threshold, x, y), each from a distinct officer who
    approved the request, for the region's current escrow key. EscrowRefused otherwise.

    The key lives only in the caller's memory, for one export; nothing here writes it anywhere."""
    if escrow_key_id is None:
        raise EscrowRefused(f"region {region}'s secret chats are strict: there is no escrow key to open them with")
    approved = set(approvers)
    officers, parsed = set(), []
    for raw in shares:
        if not isinstance(raw, Mapping):
            raise EscrowRefused("an escrow share must be an object (the share file's JSON)")
        officer = raw.get("officer")
        if raw.get("region") != region:
            raise EscrowRefused(f"a share is for region {raw.get('region')!r}, not {region}")
        if officer not in approved:
            raise EscrowRefused(f"a share belongs to {officer!r}, who did not approve this request",
                                hint="escrowed messages open only with the shares of the approving officers")
        if officer in officers:
            raise EscrowRefused(f"{officer} gave two shares; each approving officer gives one")
        officers.add(officer)
        try:
            parsed.append(escrow.Share.from_dict(dict(raw)))
        except SecretChatError as err:
            raise EscrowRefused(str(err)) from None
    if any(share.key_id != escrow_key_id for share in parsed):
        raise EscrowRefused(f"the shares are not for the region's current escrow key {escrow_key_id}")
    try:
        return escrow.combine(parsed)
    except SecretChatError as err:
        raise EscrowRefused(f"the shares do not rebuild the escrow key: {err}") from None


def open_escrowed(records: Iterable[Mapping[str, Any]], escrow_private: PrivateKey, *,
                  shares: int) -> tuple[list[dict[str, Any]], int]:
    """Content records with each escrowed secret message opened (its text added, its envelope
    kept so the authority can check it); (records, how many were opened). Messages without a
    wrap, and ones that do not open, keep their envelope and say why."""
    opened_count, result = 0, []
    for source in records:
        record = dict(source)
        if not record.get("end_to_end") or not record.get("sealed"):
            result.append(record)
            continue
        try:
            raw = base64.b64decode(record["sealed"], validate=True)
            franking = base64.b64decode(record.get("franking") or "", validate=True)
            if is_secret(record["chat"]):
                opened = session.open_escrowed(wire.parse(raw), escrow_private, chat=record["chat"],
                                               sender=record["sender"], franking=franking)
            else:
                opened = secret_group.open_escrowed(secret_group.parse(raw), escrow_private, group=record["chat"],
                                             sender=record["sender"], franking=franking)
        except escrow.EscrowError as err:
            record["notice"] = NO_WRAP_NOTICE if "strict" in str(err) else f"the escrow wrap does not open: {err}"
        except (SecretChatError, binascii.Error, ValueError) as err:
            record["notice"] = f"does not open with the escrow key: {err}"
        else:
            if opened.is_text:
                record.update({"text": opened.text, "opened": "escrow",
                               "notice": ESCROW_OPENED.format(count=shares)})
            else:
                record.update({"control": True, "opened": "escrow", "notice": CONTROL_NOTICE})
            opened_count += 1
        result.append(record)
    return result, opened_count
