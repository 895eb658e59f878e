"""message.*, chat.typing, chat.list: messages in any chat over the call API (svyaz.messaging
does the work). A private message names its recipient (`to`); a group message its group
(`chat`). History and read positions take any chat id: private, group, channel (posts with their
comment counts) or a post's comment thread.

Arguments are checked for presence, type and size here; what a message may say, and who may read
or change it, is decided in svyaz.messaging. Unknown arguments are refused, so a client typo (say
`reply` for `reply_to`) is an error rather than a silently plain message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from svyaz.messaging.channels import Channels
from svyaz.messaging.content import MAX_TEXT_CHARS
from svyaz.messaging.groups import GroupChats
from svyaz.messaging.ids import CHANNEL, COMMENTS, GROUP, chat_kind
from svyaz.messaging.model import Message
from svyaz.messaging.overview import ChatLine, ChatOverview
from svyaz.messaging.service import PrivateChats
from svyaz.node.api import Call, Handler
from svyaz.node.errors import InvalidField
from svyaz.node.handlers.args import flag, me, only, optional_position, optional_seq, seq_arg, text

ID_LIMIT = 200
# Text may carry surrounding whitespace the writer strips; the content rules count what remains.
RAW_TEXT_LIMIT = MAX_TEXT_CHARS * 2


class MessageHandlers:
    def __init__(self, chats: PrivateChats, groups: GroupChats, channels: Channels, overview: ChatOverview) -> None:
        self._chats = chats
        self._groups = groups
        self._channels = channels
        self._overview = overview

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
        args = only(call, "to", "chat", "text", "client_id", "reply_to")
        if ("to" in args) == ("chat" in args):
            raise InvalidField('give "to" (an account) or "chat" (a group), not both')
        common = {"text": text(args, "text", limit=RAW_TEXT_LIMIT), "client_id": text(args, "client_id", limit=64),
                  "reply_to": optional_seq(args, "reply_to")}
        if "to" in args:
            message = await self._chats.send(me(call), to=text(args, "to", limit=ID_LIMIT), **common)
        else:
            message = await self._groups.send(me(call), chat=_chat_of_kind(args, GROUP), **common)
        return ack(message)

    async def forward(self, call: Call) -> dict[str, Any]:
        args = only(call, "to", "from_chat", "seq", "client_id")
        message = await self._chats.forward(
            me(call), to=text(args, "to", limit=ID_LIMIT), from_chat=text(args, "from_chat", limit=ID_LIMIT),
            seq=seq_arg(args, "seq"), client_id=text(args, "client_id", limit=64))
        return ack(message)

    async def edit(self, call: Call) -> dict[str, Any]:
        args = only(call, "chat", "seq", "text")
        chat, seq, new_text = text(args, "chat", limit=ID_LIMIT), seq_arg(args, "seq"), \
            text(args, "text", limit=RAW_TEXT_LIMIT)
        message = await self._kept_by(chat).edit(me(call), chat=chat, seq=seq, text=new_text)
        return message.as_wire()

    async def delete(self, call: Call) -> dict[str, Any]:
        args = only(call, "chat", "seq", "for_everyone")
        chat, seq, for_everyone = text(args, "chat", limit=ID_LIMIT), seq_arg(args, "seq"), flag(args, "for_everyone")
        if chat_kind(chat) in (GROUP, CHANNEL, COMMENTS):
            if not for_everyone:
                raise InvalidField('in a group, channel or comment thread a message is deleted for everyone: '
                                   'pass "for_everyone": true')
            await self._kept_by(chat).delete(me(call), chat=chat, seq=seq)
        else:
            await self._chats.delete(me(call), chat=chat, seq=seq, for_everyone=for_everyone)
        return {"deleted": True}

    def _kept_by(self, chat: str) -> PrivateChats | GroupChats | Channels:
        """The use case that keeps the messages of `chat`."""
        kind = chat_kind(chat)
        if kind == GROUP:
            return self._groups
        if kind in (CHANNEL, COMMENTS):
            return self._channels
        return self._chats

    async def history(self, call: Call) -> dict[str, Any]:
        args = only(call, "chat", "before", "after", "limit")
        chat = text(args, "chat", limit=ID_LIMIT)
        page = {"before": optional_seq(args, "before"), "after": optional_position(args, "after"),
                "limit": optional_seq(args, "limit") or 50}
        kind = chat_kind(chat)
        if kind == CHANNEL:
            posts = await self._channels.posts(me(call), channel=chat, **page)
            return {"messages": [{**post.message.as_wire(), "comments": post.comments} for post in posts]}
        if kind == COMMENTS:
            messages = await self._channels.comments(me(call), thread=chat, **page)
        elif kind == GROUP:
            messages = await self._groups.history(me(call), chat=chat, **page)
        else:
            messages = await self._chats.history(me(call), chat=chat, **page)
        return {"messages": [message.as_wire() for message in messages]}

    async def delivered(self, call: Call) -> dict[str, Any]:
        return await self._mark(call, "delivered")

    async def read(self, call: Call) -> dict[str, Any]:
        return await self._mark(call, "read")

    async def _mark(self, call: Call, kind: str) -> dict[str, Any]:
        args = only(call, "chat", "seq")
        chat, seq = text(args, "chat", limit=ID_LIMIT), seq_arg(args, "seq")
        chat_type = chat_kind(chat)
        if chat_type == GROUP:
            marked = await self._groups.mark(me(call), chat=chat, seq=seq, kind=kind)
        elif chat_type == CHANNEL and kind == "read":
            marked = await self._channels.mark(me(call), channel=chat, seq=seq)
        elif chat_type in (CHANNEL, COMMENTS):
            raise InvalidField(f"{call.action} is not kept for this kind of chat")
        else:
            marked = await self._chats.mark(me(call), chat=chat, seq=seq, kind=kind)
        return {kind: marked}

    async def typing(self, call: Call) -> dict[str, Any]:
        args = only(call, "chat")
        await self._chats.typing(me(call), chat=text(args, "chat", limit=ID_LIMIT))
        return {}

    async def list_chats(self, call: Call) -> dict[str, Any]:
        args = only(call, "limit")
        lines = await self._overview.lines(me(call), limit=min(optional_seq(args, "limit") or 100, 500))
        return {"chats": [_line(line) for line in lines]}


def ack(message: Message) -> dict[str, Any]:
    return {"chat": message.chat, "seq": message.seq, "client_id": message.client_id, "sent_at": message.sent_at}


def _chat_of_kind(args: Mapping[str, Any], kind: str) -> str:
    chat = text(args, "chat", limit=ID_LIMIT)
    if chat_kind(chat) != kind:
        raise InvalidField(f'"chat" must be a {kind} id')
    return chat


def _line(line: ChatLine) -> dict[str, Any]:
    entry = {"chat": line.chat, "kind": line.kind, "title": line.title, "last_seq": line.last_seq,
             "last_at": line.last_at, "preview": line.preview, "preview_sender": line.preview_sender,
             "read_seq": line.read_seq, "unread": line.unread}
    if line.kind == "private":
        entry["peer"] = line.title
    else:
        entry["role"] = line.role
    return entry
