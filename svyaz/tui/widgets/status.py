"""The line above the key bar: who you are, and the last error in words (never a traceback)."""

from __future__ import annotations

from rich.markup import escape
from textual.widgets import Static


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: 1; padding: 0 1; background: $panel; }
    StatusBar.-error { background: $error 40%; }
    StatusBar.-busy { background: $warning 40%; }
    """

    def _show(self, text: str, state: str | None) -> None:
        for name in ("-error", "-busy"):
            self.set_class(name == state, name)
        self.update(escape(text))

    def info(self, text: str) -> None:
        self._show(text, None)

    def busy(self, text: str) -> None:
        """Something under way that the person waits for (reconnecting)."""
        self._show(text, "-busy")

    def error(self, text: str) -> None:
        self._show(text, "-error")

    @property
    def text(self) -> str:
        return str(self.content)
