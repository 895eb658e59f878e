"""Scriptable chat commands: send, listen, history, chats, read, edit, delete, forward.

Each acts as the device's current account, or another one with `--as`. A chat is named by its id
(`dm/@alice:ru/@bob:ru`) or by the peer (`@bob:ru`). `--json` prints the node's data; `listen`
prints one line, or one JSON object, per event as it arrives.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import aclosing
from typing import Any

import trio

from svyaz.client.accounts import AccountBook
from svyaz.client.cli import _as_arg, _book, _command
from svyaz.client.messaging import Messenger, chat_for, new_client_id, peer_for, send_reliably, with_reconnects
from svyaz.client.session import open_account_client, refresh_tokens
from svyaz.errors import SvyazError


def register(commands: argparse._SubParsersAction) -> None:
    send = _command(commands, "send", "send a message to someone or into a group (TEXT - reads it from stdin)",
                    _send)
    send.add_argument("to", metavar="TO", help="the recipient, e.g. @bob:ru, or a chat id: dm/... or a group g/...")
    send.add_argument("text", metavar="TEXT")
    send.add_argument("--reply-to", type=int, metavar="SEQ", help="answer this message of the chat")
    send.add_argument("--client-id", help="resend a send that was interrupted (the id it printed): stored once")
    _as_arg(send)

    listen = commands.add_parser("listen", help="print events as they arrive: messages, edits, receipts, typing",
                                 description="print events as they arrive; messages from others are "
                                             "acknowledged as delivered")
    listen.add_argument("--json", action="store_true", help="one JSON object per line")
    listen.add_argument("--count", type=int, metavar="N", help="exit after N events")
    listen.add_argument("--timeout", type=float, metavar="S", help="exit after listening S seconds (status 1 if "
                                                                   "fewer than --count events came)")
    listen.set_defaults(handler=lambda args: trio.run(_listen, args))
    _as_arg(listen)

    history = _command(commands, "history", "messages of a chat, oldest first", _history)
    _chat_arg(history)
    page = history.add_mutually_exclusive_group()
    page.add_argument("--before", type=int, metavar="SEQ", help="the page before this message")
    page.add_argument("--after", type=int, metavar="SEQ", help="the page after this message")
    history.add_argument("--limit", type=int, metavar="N", help="at most N messages (node default 50, max 100)")
    _as_arg(history)

    chats = _command(commands, "chats", "your chats, newest first, with unread counts", _chats)
    chats.add_argument("--limit", type=int, metavar="N")
    _as_arg(chats)

    read = _command(commands, "read", "mark a chat read (up to its last message, or --seq)", _read)
    _chat_arg(read)
    read.add_argument("--seq", type=int, metavar="N")
    _as_arg(read)

    edit = _command(commands, "edit", "change the text of a message you sent (TEXT - reads stdin)", _edit)
    _chat_arg(edit)
    edit.add_argument("seq", type=int, metavar="SEQ")
    edit.add_argument("text", metavar="TEXT")
    _as_arg(edit)

    delete = _command(commands, "delete", "delete a message for yourself, or for everyone (yours only)", _delete)
    _chat_arg(delete)
    delete.add_argument("seq", type=int, metavar="SEQ")
    delete.add_argument("--for-everyone", action="store_true")
    _as_arg(delete)

    forward = _command(commands, "forward", "forward a message to someone", _forward)
    forward.add_argument("to", metavar="TO", help="the recipient, e.g. @carol:ru")
    forward.add_argument("--from", dest="from_chat", required=True, metavar="CHAT",
                         help="the chat (or peer) the message is in")
    forward.add_argument("--seq", type=int, required=True, metavar="N")
    forward.add_argument("--client-id", help="resend a forward that was interrupted: stored once")
    _as_arg(forward)


def _chat_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("chat", metavar="CHAT_OR_PEER", help="a peer like @bob:ru or a chat id like dm/@a:ru/@b:ru")


def _me(book: AccountBook, args: argparse.Namespace) -> str:
    return args.as_account or book.current()


def _text(value: str) -> str:
    return sys.stdin.read() if value == "-" else value


# --- commands ---------------------------------------------------------------------------------------

async def _send(args: argparse.Namespace) -> Any:
    book = _book()
    me, text, client_id = _me(book, args), _text(args.text), args.client_id or new_client_id()
    to = peer_for(me, args.to)
    sent = await send_reliably(lambda: open_account_client(book, me), to, text, reply_to=args.reply_to,
                               client_id=client_id)
    return sent if args.json else f"sent to {to}: #{sent['seq']} in {sent['chat']}"


async def _listen(args: argparse.Namespace) -> int:
    book = _book()
    me = _me(book, args)
    seen = 0

    async def fresh_access_token() -> str:
        return (await refresh_tokens(book, me)).access_token

    async with open_account_client(book, me) as client:
        messenger = Messenger(client, account=me)
        await messenger.whoami()  # answered only once the node delivers to this connection
        print(f"listening as {me}; Ctrl-C to stop", file=sys.stderr, flush=True)
        with trio.move_on_after(args.timeout if args.timeout is not None else float("inf")):
            async with aclosing(messenger.events(fresh_access_token=fresh_access_token)) as events:
                async for event in events:
                    print(json.dumps(event, ensure_ascii=False) if args.json else describe(event), flush=True)
                    seen += 1
                    if args.count is not None and seen >= args.count:
                        return 0
    if args.count is not None:
        raise SvyazError(f"{seen} of {args.count} events came within {args.timeout:g} s")
    return 0


async def _history(args: argparse.Namespace) -> Any:
    book = _book()
    me = _me(book, args)
    chat = chat_for(me, args.chat)
    async with open_account_client(book, me) as client:
        messages = await Messenger(client, account=me).history(chat, before=args.before, after=args.after,
                                                               limit=args.limit)
    if args.json:
        return {"messages": messages}
    return "\n".join(_line(message) for message in messages) or f"no messages in {chat}"


async def _chats(args: argparse.Namespace) -> Any:
    book = _book()
    me = _me(book, args)
    async with open_account_client(book, me) as client:
        chats = await Messenger(client, account=me).chats(limit=args.limit)
    if args.json:
        return {"chats": chats}
    return "\n".join(_chat_line(chat) for chat in chats) or "no chats yet"


async def _read(args: argparse.Namespace) -> Any:
    book = _book()
    me = _me(book, args)
    chat = chat_for(me, args.chat)
    async with open_account_client(book, me) as client:
        messenger = Messenger(client, account=me)
        seq = args.seq
        if seq is None:
            newest = await messenger.history(chat, limit=1)
            if not newest:
                raise SvyazError(f"nothing to read in {chat}")
            seq = newest[-1]["seq"]
        read = await messenger.read(chat, seq)
    return {"chat": chat, "read": read} if args.json else f"read {chat} up to #{read}"


async def _edit(args: argparse.Namespace) -> Any:
    book = _book()
    me = _me(book, args)
    text = _text(args.text)
    async with open_account_client(book, me) as client:
        edited = await Messenger(client, account=me).edit(chat_for(me, args.chat), args.seq, text)
    return edited if args.json else f"edited #{edited['seq']} in {edited['chat']}"


async def _delete(args: argparse.Namespace) -> Any:
    book = _book()
    me = _me(book, args)
    chat = chat_for(me, args.chat)
    async with open_account_client(book, me) as client:
        result = await Messenger(client, account=me).delete(chat, args.seq, for_everyone=args.for_everyone)
    if args.json:
        return result
    return f"deleted #{args.seq} in {chat} " + ("for everyone" if args.for_everyone else "for you")


async def _forward(args: argparse.Namespace) -> Any:
    book = _book()
    me = _me(book, args)
    to, from_chat, client_id = peer_for(me, args.to), chat_for(me, args.from_chat), args.client_id or new_client_id()
    sent = await with_reconnects(lambda: open_account_client(book, me),
                                 lambda m: m.forward(to, from_chat=from_chat, seq=args.seq, client_id=client_id),
                                 client_id=client_id)
    return sent if args.json else f"forwarded #{args.seq} of {from_chat} to {to}: #{sent['seq']} in {sent['chat']}"


# --- human output -----------------------------------------------------------------------------------

def describe(event: dict[str, Any]) -> str:
    """One line (continued with indented lines for multi-line text) for an event."""
    kind, chat, actor, seq = event.get("kind"), event.get("chat"), event.get("actor"), event.get("seq")
    stamp = _clock(event.get("at"))
    if kind == "message.created":
        return f"{stamp} {chat} {_line(event.get('message') or {}, stamp=False)}"
    if kind == "message.edited":
        return f"{stamp} {chat} #{seq} edited by {actor}: {_indent((event.get('message') or {}).get('text', ''))}"
    if kind == "message.deleted":
        return f"{stamp} {chat} #{seq} deleted by {actor}"
    if kind == "receipt.delivered":
        return f"{stamp} {chat} delivered to {actor} up to #{seq}"
    if kind == "receipt.read":
        return f"{stamp} {chat} read by {actor} up to #{seq}"
    if kind == "typing":
        return f"{stamp} {chat} {actor} is typing…"
    return f"{stamp} {chat} {kind} by {actor}"


def _line(message: dict[str, Any], *, stamp: bool = True) -> str:
    notes = []
    if message.get("reply_to"):
        notes.append(f"reply to #{message['reply_to']}")
    if message.get("forwarded_from"):
        notes.append(f"forwarded from {message['forwarded_from']}")
    if message.get("edited_at"):
        notes.append("edited")
    text = "(deleted)" if message.get("deleted") else _indent(message.get("text", ""))
    head = f"#{message.get('seq')} " + (f"{_day_clock(message.get('sent_at'))} " if stamp else "")
    return f"{head}{message.get('sender')}: " + (f"[{', '.join(notes)}] " if notes else "") + text


def _chat_line(chat: dict[str, Any]) -> str:
    unread = f"{chat['unread']} unread" if chat.get("unread") else "read"
    last = f"{chat['preview_sender']}: {chat['preview']}" if chat.get("preview_sender") else chat.get("preview", "")
    # Only private chats have a peer; a group or channel is shown by its title and id.
    name = chat.get("peer") or f"{chat.get('title') or ''} ({chat['chat']})".strip()
    return f"{name}  {unread}  {_day_clock(chat.get('last_at'))}  {last}"


def _indent(text: str) -> str:
    return text.replace("\n", "\n    ")


def _clock(at: Any) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at)) if isinstance(at, (int, float)) and at else "--:--:--"


def _day_clock(at: Any) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(at)) if isinstance(at, (int, float)) and at else "-"
