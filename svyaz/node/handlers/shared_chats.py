"""group.* and channel.*: groups and channels over the call API (svyaz.messaging does the work)."""

from __future__ import annotations

from typing import Any

from svyaz.messaging.channels import Channels
from svyaz.messaging.groups import GroupChats
from svyaz.messaging.ids import GROUP
from svyaz.messaging.model import ChatInfo
from svyaz.node.api import Call, Handler
from svyaz.node.errors import InvalidField
from svyaz.node.handlers.args import flag, text
from svyaz.node.handlers.args import me, only, optional_seq
from svyaz.node.handlers.messages import ID_LIMIT, RAW_TEXT_LIMIT, ack

_TITLE_LIMIT = 512


class SharedChatHandlers:
    def __init__(self, groups: GroupChats, channels: Channels) -> None:
        self._groups = groups
        self._channels = channels

    def routes(self) -> dict[str, Handler]:
        return {
            "group.create": self.create_group, "group.invite": self.invite, "group.remove": self.remove,
            "group.admin": self.admin, "group.members": self.members,
            "channel.create": self.create_channel, "channel.subscribe": self.subscribe,
            "channel.unsubscribe": self.unsubscribe, "channel.post": self.post, "channel.comment": self.comment,
        }

    async def create_group(self, call: Call) -> dict[str, Any]:
        args = only(call, "title", "members", "secret")
        info = await self._groups.create(me(call), title=text(args, "title", limit=_TITLE_LIMIT),
                                         members=_accounts(args, "members", required=False),
                                         secret=flag(args, "secret"))
        return _info(info)

    async def invite(self, call: Call) -> dict[str, Any]:
        args = only(call, "chat", "accounts")
        added = await self._groups.invite(me(call), chat=text(args, "chat", limit=ID_LIMIT),
                                          accounts=_accounts(args, "accounts"))
        return {"added": added}

    async def remove(self, call: Call) -> dict[str, Any]:
        args = only(call, "chat", "account")
        removed = await self._groups.remove(me(call), chat=text(args, "chat", limit=ID_LIMIT),
                                            account=text(args, "account", limit=ID_LIMIT))
        return {"removed": removed}

    async def admin(self, call: Call) -> dict[str, Any]:
        args = only(call, "chat", "account", "admin")
        role = await self._groups.set_admin(me(call), chat=text(args, "chat", limit=ID_LIMIT),
                                            account=text(args, "account", limit=ID_LIMIT), admin=flag(args, "admin"))
        return {"role": role}

    async def members(self, call: Call) -> dict[str, Any]:
        args = only(call, "chat", "limit")
        members = await self._groups.members(me(call), chat=text(args, "chat", limit=ID_LIMIT),
                                             limit=optional_seq(args, "limit") or 200)
        return {"members": [{"account": account, "role": role} for account, role in members]}

    async def create_channel(self, call: Call) -> dict[str, Any]:
        args = only(call, "title")
        return _info(await self._channels.create(me(call), title=text(args, "title", limit=_TITLE_LIMIT)))

    async def subscribe(self, call: Call) -> dict[str, Any]:
        args = only(call, "channel")
        return _info(await self._channels.subscribe(me(call), channel=text(args, "channel", limit=ID_LIMIT)))

    async def unsubscribe(self, call: Call) -> dict[str, Any]:
        args = only(call, "channel")
        return {"unsubscribed": await self._channels.unsubscribe(me(call),
                                                                 channel=text(args, "channel", limit=ID_LIMIT))}

    async def post(self, call: Call) -> dict[str, Any]:
        args = only(call, "channel", "text", "client_id", "media")
        message = await self._channels.post(
            me(call), channel=text(args, "channel", limit=ID_LIMIT), text=text(args, "text", limit=RAW_TEXT_LIMIT),
            client_id=text(args, "client_id", limit=64), media=args.get("media"))
        return {**ack(message), "links": list(message.links)}

    async def comment(self, call: Call) -> dict[str, Any]:
        args = only(call, "thread", "text", "client_id", "reply_to")
        message = await self._channels.comment(
            me(call), thread=text(args, "thread", limit=ID_LIMIT), text=text(args, "text", limit=RAW_TEXT_LIMIT),
            client_id=text(args, "client_id", limit=64), reply_to=optional_seq(args, "reply_to"))
        return ack(message)


def _accounts(args, name: str, *, required: bool = True) -> list[str]:
    value = args.get(name, None if required else [])
    if not isinstance(value, list) or not all(isinstance(item, str) and 0 < len(item) <= ID_LIMIT for item in value):
        raise InvalidField(f'"{name}" must be a list of account ids')
    return value


def _info(info: ChatInfo) -> dict[str, Any]:
    # A secret group is a group on the wire (as in the chat list), with `secret` saying which.
    wire = {"chat": info.chat, "kind": GROUP if info.secret else info.kind, "title": info.title,
            "owner": info.owner, "created_at": info.created_at}
    if info.secret:
        wire["secret"] = True
    return wire
