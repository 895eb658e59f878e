"""The `svyaz` console script: one argparse tree, each package adds its own subcommands."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from collections.abc import Sequence

from svyaz.errors import SvyazError, report


# The module that adds each top-level command, in the order `svyaz --help` lists them. `svyaz X`
# imports X's module alone: importing all of them costs about 0.8 s, every invocation
# (tests/unit/client/test_cli_dispatch.py checks this table against what the modules register).
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "svyaz.stack.cli": ("stack",),
    "svyaz.federation.cli": ("federation",),
    "svyaz.node.cli": ("node",),
    "svyaz.client.cli": ("2fa", "account", "login", "role", "sessions"),
    "svyaz.client.chat_cli": ("chats", "delete", "edit", "forward", "history", "listen", "read", "send"),
    "svyaz.client.shared_cli": ("channel", "comments", "group"),
    "svyaz.client.safety_cli": ("block", "blocked", "presence", "report", "unblock"),
    "svyaz.client.secret_cli": ("secret",),
    "svyaz.compliance.audit.cli": ("audit",),
    "svyaz.compliance.lawful.cli": ("lawful",),
    "svyaz.demo": ("demo",),
    "svyaz.bench.cli": ("bench",),
    "svyaz.tui.cli": ("chat",),  # Textual is imported only when the command runs
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with only `command`'s module when that command is known, else (none, a typo)
    with every module, so the usage lists them all."""
    modules = [module for module, commands in COMMAND_MODULES.items() if command in commands] or list(COMMAND_MODULES)
    parser = argparse.ArgumentParser(prog="svyaz", description="Svyaz regional messenger node and tools")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in modules:
        importlib.import_module(module).register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # `svyaz ... | head` should end quietly, like any Unix tool, not with a BrokenPipeError.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    words = sys.argv[1:] if argv is None else argv
    parser = build_parser(next((word for word in words if not word.startswith("-")), None))
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except SvyazError as err:
        return report(err)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
