"""`svyaz lawful ...`: the scriptable CLI of authorities and officers (docs/compliance.md). Each
part of the workflow registers its own commands under `lawful`."""

from __future__ import annotations

import argparse

from svyaz.compliance.lawful import export_cli, retention_cli, workflow_cli


def register(commands: argparse._SubParsersAction) -> None:
    lawful = commands.add_parser("lawful", help="lawful-access requests, exports, retention (docs/compliance.md)")
    sub = lawful.add_subparsers(dest="lawful_command", required=True)
    workflow_cli.register(sub)
    export_cli.register(sub)
    retention_cli.register(sub)
