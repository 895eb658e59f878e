"""The error root every package derives from, so the CLI can report any of them without a traceback."""

import sys
from typing import TextIO


class SvyazError(Exception):
    """An error a person can act on: `str(err)` says what went wrong, `hint` how to fix it."""

    code = "svyaz_error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


def report(err: SvyazError, stream: TextIO = sys.stderr) -> int:
    """Print `err` as a command line tool should (`error:` and `fix:` lines) and return exit code 1."""
    print(f"error: {err}", file=stream)
    if err.hint:
        print(f"  fix: {err.hint}", file=stream)
    return 1
