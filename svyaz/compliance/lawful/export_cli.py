"""Commands of `svyaz lawful` (to be filled in)."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    """Add this module's commands to `svyaz lawful`."""
