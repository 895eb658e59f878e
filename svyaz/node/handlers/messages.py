"""message.*, chat.typing, chat.list: private chats over the call API (svyaz.messaging does the work).

Arguments are checked for presence, type and size here; what a message may say, and who may read
or change it, is decided in svyaz.messaging. Unknown arguments are refused, so a client typo (say
`reply` for `reply_to`) is an error rather than a silently plain message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from svyaz.messaging.chatlist import ChatListEntry
from svyaz.messaging.content import MAX_TEXT_CHARS
from svyaz.messaging.model import Message
from svyaz.messaging.service import PrivateChats
from svyaz.node.api import Call, Handler
from svyaz.node.errors import InvalidField
from svyaz.node.handlers.args import flag, text

_ID_LIMIT = 200
# Text may carry surrounding whitespace the writer strips; the content rules count what remains.
_RAW_TEXT_LIMIT = MAX_TEXT_CHARS * 2


class MessageHandlers:
    def __init__(self, chats: PrivateChats) -> None:
        self._chats = chats

    def routes(self) -> dict[str, Handler]:
        return {
            "message.send": self.send,
            "message.forward": self.forward,
            "message.edit": self.edit,
            "message.delete": self.delete,
            "message.history": self.history,
            "message.delivered": self.delivered,
            "message.read": self.read,
            "chat.typing": self.typing,
            "chat.list": self.list_chats,
        }

    async def send(self, call: Call) -> dict[str, Any]:
        args = _only(call, "to", "text", "client_id", "reply_to")
        message = await self._chats.send(
            _me(call), to=text(args, "to", limit=_ID_LIMIT), text=text(args, "text", limit=_RAW_TEXT_LIMIT),
            client_id=text(args, "client_id", limit=64), reply_to=_optional_seq(args, "reply_to"))
        return _ack(message)

    async def forward(self, call: Call) -> dict[str, Any]:
        args = _only(call, "to", "from_chat", "seq", "client_id")
        message = await self._chats.forward(
            _me(call), to=text(args, "to", limit=_ID_LIMIT), from_chat=text(args, "from_chat", limit=_ID_LIMIT),
            seq=_seq(args, "seq"), client_id=text(args, "client_id", limit=64))
        return _ack(message)

    async def edit(self, call: Call) -> dict[str, Any]:
        args = _only(call, "chat", "seq", "text")
        message = await self._chats.edit(_me(call), chat=text(args, "chat", limit=_ID_LIMIT), seq=_seq(args, "seq"),
                                         text=text(args, "text", limit=_RAW_TEXT_LIMIT))
        return message.as_wire()

    async def delete(self, call: Call) -> dict[str, Any]:
        args = _only(call, "chat", "seq", "for_everyone")
        await self._chats.delete(_me(call), chat=text(args, "chat", limit=_ID_LIMIT), seq=_seq(args, "seq"),
                                 for_everyone=flag(args, "for_everyone"))
        return {"deleted": True}

    async def history(self, call: Call) -> dict[str, Any]:
        args = _only(call, "chat", "before", "after", "limit")
        messages = await self._chats.history(
            _me(call), chat=text(args, "chat", limit=_ID_LIMIT), before=_optional_seq(args, "before"),
            after=_optional_seq(args, "after"), limit=_optional_seq(args, "limit") or 50)
        return {"messages": [message.as_wire() for message in messages]}

    async def delivered(self, call: Call) -> dict[str, Any]:
        return await self._mark(call, "delivered")

    async def read(self, call: Call) -> dict[str, Any]:
        return await self._mark(call, "read")

    async def _mark(self, call: Call, kind: str) -> dict[str, Any]:
        args = _only(call, "chat", "seq")
        seq = await self._chats.mark(_me(call), chat=text(args, "chat", limit=_ID_LIMIT), seq=_seq(args, "seq"),
                                     kind=kind)
        return {kind: seq}

    async def typing(self, call: Call) -> dict[str, Any]:
        args = _only(call, "chat")
        await self._chats.typing(_me(call), chat=text(args, "chat", limit=_ID_LIMIT))
        return {}

    async def list_chats(self, call: Call) -> dict[str, Any]:
        args = _only(call, "limit")
        entries = await self._chats.chats(_me(call), limit=_optional_seq(args, "limit") or 100)
        return {"chats": [_entry(entry) for entry in entries]}


def _me(call: Call) -> str:
    return call.caller.principal.actor


def _only(call: Call, *names: str) -> Mapping[str, Any]:
    unknown = sorted(set(call.args) - set(names))
    if unknown:
        raise InvalidField(f"{call.action} takes no argument {unknown[0][:40]!r}; it takes {', '.join(names)}")
    return call.args


def _seq(args: Mapping[str, Any], name: str) -> int:
    value = args.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 10**12:
        raise InvalidField(f'"{name}" must be a positive integer')
    return value


def _optional_seq(args: Mapping[str, Any], name: str) -> int | None:
    return None if args.get(name) is None else _seq(args, name)


def _ack(message: Message) -> dict[str, Any]:
    return {"chat": message.chat, "seq": message.seq, "client_id": message.client_id, "sent_at": message.sent_at}


def _entry(entry: ChatListEntry) -> dict[str, Any]:
    return {"chat": entry.chat, "peer": entry.peer, "last_seq": entry.last_seq, "last_at": entry.last_at,
            "preview": entry.preview, "preview_sender": entry.preview_sender, "read_seq": entry.read_seq,
            "unread": entry.unread}
