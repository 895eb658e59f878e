"""Scriptable commands for groups, channels and comments: `svyaz group ...`, `svyaz channel ...`,
`svyaz comments ...`.

A group message is `svyaz send g/<region>/<id> TEXT` (chat_cli); its history, unread count and
read position are `svyaz history`, `chats` and `read` with the group's id. Each command here acts
as the device's current account, or another one with `--as`; `--json` prints the node's data.
Posts and comments carry a client id and are resent over a new connection if one is lost, so
the node stores each once (`--client-id` repeats one that failed for good).
"""

from __future__ import annotations

import argparse
from typing import Any

from svyaz.client.chat_cli import _line, _me, _text
from svyaz.client.cli import _as_arg, _book, _command
from svyaz.client.messaging import (
    Messenger,
    comment_reliably,
    new_client_id,
    post_reliably,
    shared_chat,
    thread_id,
)
from svyaz.client.session import open_account_client
from svyaz.errors import SvyazError

# `comments list` without --before/--after starts at the first comment: the page before FIRST + 1.
DEFAULT_PAGE = 50
MAX_PAGE = 100


def register(commands: argparse._SubParsersAction) -> None:
    group = commands.add_parser("group", help="groups: create, invite, remove, leave, admin, members "
                                              "(write with `svyaz send GROUP TEXT`)")
    actions = group.add_subparsers(dest="group_action", required=True, metavar="ACTION")
    create = _command(actions, "create", "create a group you own, with members in it", _create_group)
    create.add_argument("title", metavar="TITLE")
    create.add_argument("members", metavar="MEMBER", nargs="*", help="accounts to add, e.g. @bob:ru")
    _as_arg(create)
    invite = _command(actions, "invite", "add accounts to a group (owner and admins)", _invite)
    _group_arg(invite)
    invite.add_argument("accounts", metavar="ACCOUNT", nargs="+")
    _as_arg(invite)
    remove = _command(actions, "remove", "remove a member (owner: anyone else; admins: members)", _remove)
    _group_arg(remove)
    remove.add_argument("account", metavar="ACCOUNT")
    _as_arg(remove)
    leave = _command(actions, "leave", "leave a group (its owner cannot)", _leave)
    _group_arg(leave)
    _as_arg(leave)
    admin = _command(actions, "admin", "make a member an admin, or with --revoke a member again (owner only)",
                     _admin)
    _group_arg(admin)
    admin.add_argument("account", metavar="ACCOUNT")
    admin.add_argument("--revoke", action="store_true", help="take the admin role away")
    _as_arg(admin)
    members = _command(actions, "members", "who is in a group, and their roles", _members)
    _group_arg(members)
    members.add_argument("--limit", type=int, metavar="N", help="at most N (node default 200)")
    _as_arg(members)

    channel = commands.add_parser("channel", help="channels: create, subscribe, unsubscribe, post, posts")
    actions = channel.add_subparsers(dest="channel_action", required=True, metavar="ACTION")
    create = _command(actions, "create", "create a channel you own", _create_channel)
    create.add_argument("title", metavar="TITLE")
    _as_arg(create)
    subscribe = _command(actions, "subscribe", "follow a channel: its posts reach you and `svyaz chats`",
                         _subscribe)
    _channel_arg(subscribe)
    _as_arg(subscribe)
    unsubscribe = _command(actions, "unsubscribe", "stop following a channel", _unsubscribe)
    _channel_arg(unsubscribe)
    _as_arg(unsubscribe)
    post = _command(actions, "post", "post to a channel (owner and admins; TEXT - reads it from stdin)", _post)
    _channel_arg(post)
    post.add_argument("text", metavar="TEXT")
    post.add_argument("--media", metavar="REF", help="a media reference to attach")
    post.add_argument("--client-id", help="resend a post that was interrupted (the id it printed): stored once")
    _as_arg(post)
    posts = _command(actions, "posts", "a channel's posts, oldest first, with comment counts (anyone may read)",
                     _posts)
    _channel_arg(posts)
    _page_args(posts)
    _as_arg(posts)

    comments = commands.add_parser("comments", help="comments on a channel post: list, last, add")
    actions = comments.add_subparsers(dest="comments_action", required=True, metavar="ACTION")
    listing = _command(actions, "list", "comments on a post from the first, or the page --before/--after SEQ",
                       _list_comments)
    _post_args(listing)
    _page_args(listing)
    _as_arg(listing)
    last = _command(actions, "last", "scroll to the last: the newest comments on a post", _last_comments)
    _post_args(last)
    last.add_argument("--limit", type=int, metavar="N", help="at most N comments (default 50, max 100)")
    _as_arg(last)
    add = _command(actions, "add", "comment on a post (TEXT - reads it from stdin)", _add_comment)
    _post_args(add)
    add.add_argument("text", metavar="TEXT")
    add.add_argument("--reply-to", type=int, metavar="SEQ", help="answer this comment of the thread")
    add.add_argument("--client-id", help="resend a comment that was interrupted: stored once")
    _as_arg(add)


def _group_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("chat", metavar="GROUP", help="the group's id, e.g. g/ru/0123456789abcdef")


def _channel_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("channel", metavar="CHANNEL", help="the channel's id, e.g. c/ru/0123456789abcdef")


def _post_args(parser: argparse.ArgumentParser) -> None:
    _channel_arg(parser)
    parser.add_argument("seq", type=int, metavar="SEQ", help="the post's number in the channel")


def _page_args(parser: argparse.ArgumentParser) -> None:
    page = parser.add_mutually_exclusive_group()
    page.add_argument("--before", type=int, metavar="SEQ", help="the page before this one")
    page.add_argument("--after", type=int, metavar="SEQ", help="the page after this one")
    parser.add_argument("--limit", type=int, metavar="N", help="at most N (node default 50, max 100)")


def first_page(limit: int | None) -> dict[str, int]:
    """The paging arguments of the first page: the node pages back from `before`, and takes no
    `after` below 1, so the first N are those before N + 1."""
    size = DEFAULT_PAGE if limit is None else limit
    if not 0 < size <= MAX_PAGE:
        raise SvyazError(f"--limit {size} is out of range", hint=f"give 1 to {MAX_PAGE}")
    return {"before": size + 1, "limit": size}


# --- groups -----------------------------------------------------------------------------------------

async def _create_group(args: argparse.Namespace) -> Any:
    book = _book()
    me = _me(book, args)
    async with open_account_client(book, me) as client:
        created = await Messenger(client, account=me).create_group(args.title, args.members)
    if args.json:
        return created
    members = f" with {', '.join(args.members)}" if args.members else ""
    return f"created group {created['chat']} ({created['title']}){members}"


async def _invite(args: argparse.Namespace) -> Any:
    book = _book()
    me, chat = _me(book, args), shared_chat(args.chat, kind="group")
    async with open_account_client(book, me) as client:
        added = await Messenger(client, account=me).invite(chat, args.accounts)
    if args.json:
        return {"chat": chat, "added": added}
    return f"added {', '.join(added)} to {chat}" if added else f"nobody new: all of them are in {chat} already"


async def _remove(args: argparse.Namespace) -> Any:
    book = _book()
    me, chat = _me(book, args), shared_chat(args.chat, kind="group")
    async with open_account_client(book, me) as client:
        removed = await Messenger(client, account=me).remove_member(chat, args.account)
    if args.json:
        return {"chat": chat, "account": args.account, "removed": removed}
    return f"removed {args.account} from {chat}" if removed else f"{args.account} was not in {chat}"


async def _leave(args: argparse.Namespace) -> Any:
    book = _book()
    me, chat = _me(book, args), shared_chat(args.chat, kind="group")
    async with open_account_client(book, me) as client:
        left = await Messenger(client, account=me).remove_member(chat, me)
    if args.json:
        return {"chat": chat, "account": me, "removed": left}
    return f"{me} left {chat}" if left else f"{me} was not in {chat}"


async def _admin(args: argparse.Namespace) -> Any:
    book = _book()
    me, chat = _me(book, args), shared_chat(args.chat, kind="group")
    async with open_account_client(book, me) as client:
        role = await Messenger(client, account=me).set_admin(chat, args.account, not args.revoke)
    return {"chat": chat, "account": args.account, "role": role} if args.json else \
        f"{args.account} is now {'an admin' if role == 'admin' else 'a ' + role} of {chat}"


async def _members(args: argparse.Namespace) -> Any:
    book = _book()
    me, chat = _me(book, args), shared_chat(args.chat, kind="group")
    async with open_account_client(book, me) as client:
        members = await Messenger(client, account=me).members(chat, limit=args.limit)
    if args.json:
        return {"chat": chat, "members": members}
    return "\n".join(f"{m['account']}  {m['role']}" for m in members)


# --- channels ---------------------------------------------------------------------------------------

async def _create_channel(args: argparse.Namespace) -> Any:
    book = _book()
    me = _me(book, args)
    async with open_account_client(book, me) as client:
        created = await Messenger(client, account=me).create_channel(args.title)
    return created if args.json else f"created channel {created['chat']} ({created['title']})"


async def _subscribe(args: argparse.Namespace) -> Any:
    book = _book()
    me, channel = _me(book, args), shared_chat(args.channel, kind="channel")
    async with open_account_client(book, me) as client:
        info = await Messenger(client, account=me).subscribe(channel)
    return info if args.json else f"subscribed to {info['chat']} ({info['title']})"


async def _unsubscribe(args: argparse.Namespace) -> Any:
    book = _book()
    me, channel = _me(book, args), shared_chat(args.channel, kind="channel")
    async with open_account_client(book, me) as client:
        left = await Messenger(client, account=me).unsubscribe(channel)
    if args.json:
        return {"chat": channel, "unsubscribed": left}
    return f"unsubscribed from {channel}" if left else f"you were not subscribed to {channel}"


async def _post(args: argparse.Namespace) -> Any:
    book = _book()
    me, channel = _me(book, args), shared_chat(args.channel, kind="channel")
    text, client_id = _text(args.text), args.client_id or new_client_id()
    posted = await post_reliably(lambda: open_account_client(book, me), channel, text, media=args.media,
                                 client_id=client_id)
    if args.json:
        return posted
    links = "".join(f"\n  link: {link}" for link in posted.get("links", []))
    return f"posted #{posted['seq']} in {posted['chat']}{links}"


async def _posts(args: argparse.Namespace) -> Any:
    book = _book()
    me, channel = _me(book, args), shared_chat(args.channel, kind="channel")
    async with open_account_client(book, me) as client:
        posts = await Messenger(client, account=me).posts(channel, before=args.before, after=args.after,
                                                          limit=args.limit)
    if args.json:
        return {"messages": posts}
    return "\n".join(_post_line(post) for post in posts) or f"no posts in {channel} yet"


# --- comments ---------------------------------------------------------------------------------------

async def _list_comments(args: argparse.Namespace) -> Any:
    page = {"before": args.before, "after": args.after, "limit": args.limit}
    if args.before is None and args.after is None:
        page = first_page(args.limit)
    return await _show_comments(args, **page)


async def _last_comments(args: argparse.Namespace) -> Any:
    return await _show_comments(args, limit=args.limit)


async def _show_comments(args: argparse.Namespace, **page: Any) -> Any:
    book = _book()
    me, thread = _me(book, args), thread_id(args.channel, args.seq)
    async with open_account_client(book, me) as client:
        comments = await Messenger(client, account=me).comments(args.channel, args.seq, **page)
    if args.json:
        return {"chat": thread, "messages": comments}
    return "\n".join(_line(comment) for comment in comments) or f"no comments on #{args.seq} of {args.channel}"


async def _add_comment(args: argparse.Namespace) -> Any:
    book = _book()
    me, thread = _me(book, args), thread_id(args.channel, args.seq)
    text, client_id = _text(args.text), args.client_id or new_client_id()
    sent = await comment_reliably(lambda: open_account_client(book, me), thread, text, reply_to=args.reply_to,
                                  client_id=client_id)
    return sent if args.json else f"commented on #{args.seq} of {args.channel}: #{sent['seq']} in {sent['chat']}"


# --- human output -----------------------------------------------------------------------------------

def _post_line(post: dict[str, Any]) -> str:
    count = post.get("comments", 0)
    media = f"  [media {post['media']}]" if post.get("media") else ""
    return f"{_line(post)}{media}  ({count} comment{'' if count == 1 else 's'})"

