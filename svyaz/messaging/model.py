"""Stored things: a message and a chat's read cursors, as the use cases see them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Message:
    chat: str
    seq: int
    sender: str
    client_id: str
    text: str
    sent_at: float
    reply_to: int | None = None          # seq of the message answered, same chat
    forwarded_from: str | None = None    # original sender of a forwarded message
    edited_at: float | None = None
    deleted: bool = False                # deleted for everyone: text gone, seq kept
    hidden_for: tuple[str, ...] = ()     # accounts that deleted it for themselves
    links: tuple[str, ...] = ()          # http(s) links in the text (channel posts)
    media: str | None = None             # a media reference (filled in by the media work)
    sealed: str | None = None            # a secret chat's envelope (base64); `text` is then empty
    franking: str | None = None          # its franking commitment (base64), checked when reported

    def visible_to(self, account: str) -> bool:
        return account not in self.hidden_for

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> Message:
        """The message `as_wire` describes (what another node sent of it; `hidden_for` is never sent)."""
        return cls(chat=wire["chat"], seq=wire["seq"], sender=wire["sender"], client_id=wire["client_id"],
                   text=wire["text"], sent_at=wire["sent_at"], reply_to=wire.get("reply_to"),
                   forwarded_from=wire.get("forwarded_from"), edited_at=wire.get("edited_at"),
                   deleted=bool(wire.get("deleted", False)), links=tuple(wire.get("links", ())),
                   media=wire.get("media"), sealed=wire.get("sealed"), franking=wire.get("franking"))

    def as_wire(self) -> dict[str, Any]:
        """What a participant's client receives (never `hidden_for`: whom else it is hidden from
        is nobody's business)."""
        wire: dict[str, Any] = {"chat": self.chat, "seq": self.seq, "sender": self.sender,
                                "client_id": self.client_id, "text": self.text, "sent_at": self.sent_at}
        for name in ("reply_to", "forwarded_from", "edited_at", "media", "sealed", "franking"):
            if getattr(self, name) is not None:
                wire[name] = getattr(self, name)
        if self.links:
            wire["links"] = list(self.links)
        if self.deleted:
            wire["deleted"] = True
        return wire


@dataclass(frozen=True)
class Cursors:
    """How far each participant has received and read one chat (seq numbers, 0 = nothing)."""

    delivered: dict[str, int] = field(default_factory=dict)
    read: dict[str, int] = field(default_factory=dict)


OWNER, ADMIN, MEMBER, SUBSCRIBER = "owner", "admin", "member", "subscriber"
MANAGERS = frozenset({OWNER, ADMIN})
# The stored kind of a group whose messages are sealed on its members' devices (docs/secret-chats.md).
# A kind rather than a flag of its own because the kind is stored already and a group is secret
# from its creation to its end; its id is a group's (`g/...`) and its chat-list kind is "group".
SECRET_GROUP = "secret_group"


@dataclass(frozen=True)
class ChatInfo:
    """A group's or channel's own record: what it is called and who made it."""

    chat: str
    kind: str
    title: str
    owner: str
    created_at: float

    @property
    def secret(self) -> bool:
        return self.kind == SECRET_GROUP

    def as_wire(self) -> dict[str, Any]:
        return {"chat": self.chat, "kind": self.kind, "title": self.title, "owner": self.owner,
                "created_at": self.created_at}

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> ChatInfo:
        return cls(chat=wire["chat"], kind=wire["kind"], title=wire["title"], owner=wire["owner"],
                   created_at=wire["created_at"])
