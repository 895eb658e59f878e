"""What the changes of a group or channel look like between nodes (docs/federation.md,
"Payloads"), both ways.

Two directions:
- the home node sends each change to the regions keeping a copy (`shared_routes`): `member.added`,
  `member.removed` (on the group's or channel's stream), `message.created`, `message.edited`,
  `message.deleted` (on the stream of the chat changed: the group, the channel, or a post's comment
  thread). Messages carry the home's sequence number, which every copy keeps; a member change
  carries the group's or channel's record, so a region's first copy can start from it;
- a member's node sends a change that member makes to the home (`group.command`, on the group's or
  channel's stream), and the home answers that node (`group.reply`) with the result or refusal.

Reading is strict, as in `wire`: `malformed` for a payload other than what is written here,
`not_permitted` for an origin acting for someone it does not host or for a group that is not where
it says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from svyaz.federation.errors import Malformed, NotPermitted
from svyaz.identity.accounts import parse_account_id
from svyaz.identity.errors import MalformedAccountId
from svyaz.messaging import events
from svyaz.messaging.errors import InvalidMessage
from svyaz.messaging.events import Event
from svyaz.messaging.shared_commands import ACTIONS
from svyaz.messaging.ids import CHANNEL, COMMENTS, GROUP, chat_kind, home_of, thread_of
from svyaz.messaging.model import ADMIN, MEMBER, OWNER, SECRET_GROUP, SUBSCRIBER, ChatInfo, Message
from svyaz.node.federation.payload import PayloadFields

GROUP_COMMAND, GROUP_REPLY = "group.command", "group.reply"
MEMBER_KINDS = frozenset({events.MEMBER_ADDED, events.MEMBER_REMOVED})
MESSAGE_KINDS = frozenset({events.MESSAGE_CREATED, events.MESSAGE_EDITED, events.MESSAGE_DELETED})
# What the home sends on; receipts stay with the reader's own node (a group tells no one else who read).
FORWARDED = MEMBER_KINDS | MESSAGE_KINDS
_ROLES = frozenset({OWNER, ADMIN, MEMBER, SUBSCRIBER})
_INFO_KINDS = frozenset({GROUP, SECRET_GROUP, CHANNEL})


# --- the home's changes, out ---------------------------------------------------------------------

def from_event(event: Event, info: ChatInfo, *,
               members: tuple[tuple[str, str], ...] | None = None) -> dict[str, Any]:
    """The payload of a local group event of a group homed here; `members` (account, role) go with
    a member change to a region's first copy."""
    if event.kind in MEMBER_KINDS:
        payload: dict[str, Any] = {"actor": event.actor, "account": event.data["account"], "group": _info(info)}
        if event.kind == events.MEMBER_ADDED:
            payload["role"] = event.data["role"]
        if members is not None:
            payload["members"] = [[account, role] for account, role in members]
        return payload
    return {"actor": event.actor, "message": _message(event.data)}


def _info(info: ChatInfo) -> dict[str, Any]:
    return {"kind": info.kind, "title": info.title, "owner": info.owner, "created_at_ms": _ms(info.created_at)}


def _message(wire: Mapping[str, Any]) -> dict[str, Any]:
    message = {key: value for key, value in wire.items() if key not in ("chat", "sent_at", "edited_at")}
    message["sent_at_ms"] = _ms(wire["sent_at"])
    if wire.get("edited_at") is not None:
        message["edited_at_ms"] = _ms(wire["edited_at"])
    return message


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


# --- the home's changes, in ----------------------------------------------------------------------

@dataclass(frozen=True)
class MemberChange:
    info: ChatInfo
    actor: str
    account: str
    role: str | None
    members: tuple[tuple[str, str], ...] | None = None  # the whole list, for a first copy


def read_member_change(*, origin: str, stream: str, kind: str, payload: Mapping[str, Any]) -> MemberChange:
    chat = _homed_in(stream, origin, (GROUP, CHANNEL))
    fields = _Fields(payload, kind)
    account, actor = fields.account("account"), fields.account("actor")
    role = fields.choice("role", _ROLES) if kind == events.MEMBER_ADDED else None
    info = fields.info("group", chat)
    members = fields.members("members") if "members" in payload else None
    fields.done({"actor", "account", "group", "role", "members"})
    return MemberChange(info=info, actor=actor, account=account, role=role, members=members)


def read_message(*, origin: str, stream: str, kind: str, payload: Mapping[str, Any]) -> tuple[str, Message]:
    """(actor, the message as the home stored it)."""
    chat = _homed_in(stream, origin, (GROUP, CHANNEL, COMMENTS))
    fields = _Fields(payload, kind)
    actor = fields.account("actor")
    raw = fields.get("message")
    fields.done({"actor", "message"})
    if not isinstance(raw, Mapping):
        raise Malformed(f"{kind} message is not an object")
    message = _Fields(raw, f"{kind} message")
    known = {"seq", "sender", "client_id", "text", "sent_at_ms", "edited_at_ms", "reply_to", "forwarded_from",
             "deleted", "links", "media", "sealed", "franking"}
    try:
        stored = Message(
            chat=chat, seq=message.positive("seq"), sender=message.account("sender"),
            client_id=message.client_id("client_id"), text=message.string("text", 4096),
            sent_at=message.ms("sent_at_ms"), reply_to=message.optional_positive("reply_to"),
            forwarded_from=message.optional_account("forwarded_from"),
            edited_at=message.ms("edited_at_ms") if "edited_at_ms" in raw else None,
            deleted=message.flag("deleted"), links=tuple(message.strings("links")),
            media=message.optional_string("media", 512), sealed=message.optional_string("sealed", 65536),
            franking=message.optional_string("franking", 256))
    except InvalidMessage as err:
        raise Malformed(f"{kind}: {err}") from None
    message.done(known)
    return actor, stored


def _homed_in(stream: str, region: str, kinds: tuple[str, ...]) -> str:
    """`stream`, checked to name a chat of one of `kinds` whose home is `region`."""
    try:
        kind = chat_kind(stream)
    except InvalidMessage:
        kind = None
    if kind not in kinds:
        raise Malformed(f"stream {stream[:80]!r} is not a {' or '.join(kinds)}")
    if home_of(thread_of(stream)[0] if kind == COMMENTS else stream) != region:
        raise NotPermitted(f"{region} is not the home of {stream[:80]}")
    return stream


# --- a member's change, to the home; the home's answer -------------------------------------------

def command(*, command_id: str, actor: str, action: str, args: Mapping[str, Any]) -> dict[str, Any]:
    return {"command_id": command_id, "actor": actor, "action": action, "args": dict(args)}


@dataclass(frozen=True)
class Command:
    command_id: str
    actor: str
    action: str
    args: Mapping[str, Any]


def read_command(*, origin: str, local_region: str, stream: str, payload: Mapping[str, Any]) -> tuple[str, Command]:
    """(the group or channel, the command) a member's node sends its home (this node)."""
    _homed_in(stream, local_region, (GROUP, CHANNEL))
    fields = _Fields(payload, GROUP_COMMAND)
    actor = fields.account("actor")
    if actor.rpartition(":")[2] != origin:
        raise NotPermitted(f"{origin} may not act for {actor}, who lives in another region")
    command_id = fields.string("command_id", 64)
    action = fields.choice("action", ACTIONS)
    args = fields.get("args")
    if not isinstance(args, Mapping):
        raise Malformed("group.command args must be an object")
    fields.done({"command_id", "actor", "action", "args"})
    return stream, Command(command_id, actor, action, args)


def reply(command_id: str, *, result: Mapping[str, Any] | None = None, code: str = "", message: str = "") -> dict:
    if result is not None:
        return {"command_id": command_id, "ok": True, "result": dict(result)}
    return {"command_id": command_id, "ok": False, "code": code, "message": message[:300]}


def read_reply(*, origin: str, stream: str, payload: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(the command id, the reply) the home of `stream` sends back."""
    _homed_in(stream, origin, (GROUP, CHANNEL))
    fields = _Fields(payload, GROUP_REPLY)
    command_id = fields.string("command_id", 64)
    ok = fields.flag("ok")
    if ok:
        result = fields.get("result")
        if not isinstance(result, Mapping):
            raise Malformed("group.reply result must be an object")
        fields.done({"command_id", "ok", "result"})
        return command_id, {"ok": True, "result": dict(result)}
    code, message = fields.string("code", 64), fields.string("message", 300)
    fields.done({"command_id", "ok", "code", "message"})
    return command_id, {"ok": False, "code": code, "message": message}


class _Fields(PayloadFields):
    """The payload reader, with the group records a payload carries."""

    def members(self, name: str) -> tuple[tuple[str, str], ...]:
        value = self.get(name)
        if not isinstance(value, list) or len(value) > 100_000:
            raise Malformed(f"{self.what} {name} must be a list of [account, role]")
        members = []
        for entry in value:
            if not (isinstance(entry, list) and len(entry) == 2 and entry[1] in _ROLES):
                raise Malformed(f"{self.what} {name} must be a list of [account, role]")
            try:
                members.append((str(parse_account_id(entry[0])), entry[1]))
            except (MalformedAccountId, TypeError):
                raise Malformed(f"{self.what} {name} lists something that is not an account id") from None
        return tuple(members)

    def info(self, name: str, chat: str) -> ChatInfo:
        raw = self.get(name)
        if not isinstance(raw, Mapping):
            raise Malformed(f"{self.what} {name} must be an object")
        info = _Fields(raw, f"{self.what} {name}")
        record = ChatInfo(chat=chat, kind=info.choice("kind", _INFO_KINDS),
                          title=info.string("title", 256), owner=info.account("owner"),
                          created_at=info.ms("created_at_ms"))
        info.done({"kind", "title", "owner", "created_at_ms"})
        if (record.kind == CHANNEL) != (chat_kind(chat) == CHANNEL):
            raise Malformed(f"{self.what} {name} says {record.kind} of {chat[:80]}")
        return record
