"""The error root every package derives from, so the CLI can report any of them without a traceback."""


class SvyazError(Exception):
    """An error a person can act on: `str(err)` says what went wrong, `hint` how to fix it."""

    code = "svyaz_error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint
