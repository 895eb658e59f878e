"""The `svyaz` console script: one argparse tree, each package adds its own subcommands."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from svyaz.errors import SvyazError, report


def build_parser() -> argparse.ArgumentParser:
    from svyaz import demo
    from svyaz.bench import cli as bench_cli
    from svyaz.client import chat_cli, safety_cli, secret_cli, shared_cli
    from svyaz.client import cli as client_cli
    from svyaz.compliance.audit import cli as audit_cli
    from svyaz.compliance.lawful import cli as lawful_cli
    from svyaz.federation import cli as federation_cli
    from svyaz.node import cli as node_cli
    from svyaz.tui import cli as tui_cli
    from svyaz.stack import cli as stack_cli

    parser = argparse.ArgumentParser(prog="svyaz", description="Svyaz regional messenger node and tools")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    stack_cli.register(commands)
    federation_cli.register(commands)
    node_cli.register(commands)
    client_cli.register(commands)
    chat_cli.register(commands)
    shared_cli.register(commands)
    safety_cli.register(commands)
    secret_cli.register(commands)
    audit_cli.register(commands)
    lawful_cli.register(commands)
    demo.register(commands)
    bench_cli.register(commands)
    tui_cli.register(commands)  # `svyaz chat`; Textual is imported only when the command runs
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # `svyaz ... | head` should end quietly, like any Unix tool, not with a BrokenPipeError.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except SvyazError as err:
        return report(err)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
