"""`svyaz chat [--as ACCOUNT]`: the interactive chat app for the accounts on this device."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    chat = commands.add_parser("chat", help="interactive chat (Textual) for the accounts on this device",
                               description="chats, conversations and a composer in the terminal; "
                                           "ctrl+n starts a private chat, f3 a group, f4 a channel, f5 "
                                           "subscribes to a channel, f6 invites to the open group, f2 "
                                           "switches account; a lost connection is retried by itself")
    chat.add_argument("--as", dest="as_account", metavar="ACCOUNT", help="start as this account on the device (default: current)")
    chat.set_defaults(handler=_chat)


def _chat(args: argparse.Namespace) -> int:
    # Imported here: `svyaz --help` and the other commands do not pay for Textual.
    from svyaz.client.cli import _book
    from svyaz.tui.app import make_app
    from svyaz.tui.messenger_backend import MessengerBackend

    book = _book()
    account = args.as_account or book.current()  # no account yet: a clear error before the screen opens
    book.node_url(account)
    make_app(MessengerBackend(book), account=account).run()
    return 0
