"""The line above the key bar: who you are, and the last error in words (never a traceback)."""

from __future__ import annotations

from rich.markup import escape
from textual.widgets import Static


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: 1; padding: 0 1; background: $panel; }
    StatusBar.-error { background: $error 40%; }
    """

    def info(self, text: str) -> None:
        self.remove_class("-error")
        self.update(escape(text))

    def error(self, text: str) -> None:
        self.add_class("-error")
        self.update(escape(text))

    @property
    def text(self) -> str:
        return str(self.content)
