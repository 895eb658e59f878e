"""Changes that members abroad make to a group or channel homed here, run here as if made here
(federation).

A member's own node hands the change to this one (`svyaz.messaging.ports.HomeNode`); it is run by
the same GroupChats or Channels method a local member's call reaches, so every rule (membership,
roles, limits, the region's secret-chat policy) is checked in one place, and its effect leaves as
the chat's events to every region that keeps a copy. The result is what the member's node turns
back into the method's return value (`GroupChats._at_home`, `Channels._at_home`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from svyaz.messaging.channels import Channels
from svyaz.messaging.errors import InvalidMessage
from svyaz.messaging.groups import GroupChats
from svyaz.messaging.ids import CHANNEL, GROUP, chat_kind, thread_of

GROUP_ACTIONS = frozenset({"send", "send_sealed", "edit", "delete", "invite", "remove", "set_admin"})
CHANNEL_ACTIONS = frozenset({"subscribe", "unsubscribe", "post", "comment", "edit", "delete"})
ACTIONS = GROUP_ACTIONS | CHANNEL_ACTIONS


async def run_at_home(groups: GroupChats, channels: Channels, chat: str, actor: str, action: str,
                      args: Mapping[str, Any]) -> dict[str, Any]:
    """The result of `action` on `chat` (a group or channel homed here) by `actor`, who lives in
    another region; MessagingError as a local call would raise it."""
    if chat_kind(chat) == CHANNEL:
        return await _on_channel(channels, chat, actor, action, args)
    if chat_kind(chat) != GROUP:
        raise InvalidMessage("changes from abroad are made to a group or a channel")
    return await _on_group(groups, chat, actor, action, args)


async def _on_group(groups: GroupChats, chat: str, actor: str, action: str, args: Mapping[str, Any]) -> dict[str, Any]:
    if action == "send":
        message = await groups.send(actor, chat=chat, text=args.get("text"), client_id=args.get("client_id"),
                                    reply_to=_optional_seq(args.get("reply_to")))
    elif action == "send_sealed":
        message = await groups.send_sealed(actor, chat=chat, sealed=args.get("sealed"), franking=args.get("franking"),
                                           client_id=args.get("client_id"))
    elif action == "edit":
        message = await groups.edit(actor, chat=chat, seq=args.get("seq"), text=args.get("text"))
    elif action == "delete":
        message = await groups.delete(actor, chat=chat, seq=args.get("seq"))
    elif action == "invite":
        accounts = args.get("accounts")
        if not isinstance(accounts, list):
            raise InvalidMessage("accounts must be a list of account ids")
        return {"added": await groups.invite(actor, chat=chat, accounts=accounts)}
    elif action == "remove":
        return {"removed": await groups.remove(actor, chat=chat, account=_account(args.get("account")))}
    elif action == "set_admin":
        admin = args.get("admin")
        if not isinstance(admin, bool):
            raise InvalidMessage("admin must be true or false")
        return {"role": await groups.set_admin(actor, chat=chat, account=_account(args.get("account")), admin=admin)}
    else:
        raise InvalidMessage(f"{str(action)[:40]!r} is not a change a member abroad can make")
    return {"message": message.as_wire()}


async def _on_channel(channels: Channels, channel: str, actor: str, action: str,
                      args: Mapping[str, Any]) -> dict[str, Any]:
    if action == "subscribe":
        return {"info": (await channels.subscribe(actor, channel=channel)).as_wire()}
    if action == "unsubscribe":
        return {"removed": await channels.unsubscribe(actor, channel=channel)}
    if action == "post":
        message = await channels.post(actor, channel=channel, text=args.get("text"), client_id=args.get("client_id"),
                                      media=args.get("media"))
    elif action == "comment":
        thread = _in_channel(args.get("thread"), channel)
        message = await channels.comment(actor, thread=thread, text=args.get("text"), client_id=args.get("client_id"),
                                         reply_to=_optional_seq(args.get("reply_to")))
    elif action == "edit":
        message = await channels.edit(actor, chat=_in_channel(args.get("chat"), channel), seq=args.get("seq"),
                                      text=args.get("text"))
    elif action == "delete":
        message = await channels.delete(actor, chat=_in_channel(args.get("chat"), channel), seq=args.get("seq"))
    else:
        raise InvalidMessage(f"{str(action)[:40]!r} is not a change a subscriber abroad can make")
    return {"message": message.as_wire()}


def _in_channel(chat: object, channel: str) -> str:
    """`chat`: `channel` itself or one of its posts' comment threads."""
    if chat == channel:
        return channel
    if isinstance(chat, str) and chat.startswith(channel + "/p/") and thread_of(chat)[0] == channel:
        return chat
    raise InvalidMessage("the change must concern the channel it was sent for, or a thread of its posts")


def _optional_seq(value: object) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        return value  # type: ignore[return-value]
    raise InvalidMessage("reply_to must be a positive integer")


def _account(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidMessage("account must be an account id like @bob:kz")
    return value
