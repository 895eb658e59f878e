"""Small modal dialogs: type an account id for a new private chat; pick an account on this device."""

from __future__ import annotations

import re

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

# `@name:region`, checked again by the node; this only catches a typo before the round trip.
ACCOUNT_SHAPE = re.compile(r"^@[^\s:@]+:[a-z]{2}$")

DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 60; height: auto; border: round $accent; padding: 1 2; background: $surface; }}
{name} Label.-error {{ color: $error; }}
"""


class NewChatDialog(ModalScreen[str | None]):
    DEFAULT_CSS = DIALOG_CSS.format(name="NewChatDialog")
    BINDINGS = [Binding("escape", "dismiss(None)", "cancel")]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("New private chat with (account id, e.g. @bob:ru):")
            yield Input(placeholder="@name:region", id="peer")
            yield Label("", id="problem")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        peer = event.value.strip()
        if not ACCOUNT_SHAPE.match(peer):
            problem = self.query_one("#problem", Label)
            problem.add_class("-error")
            problem.update("an account id looks like @name:region, e.g. @bob:ru")
            return
        self.dismiss(peer)


class SwitchAccountDialog(ModalScreen[str | None]):
    DEFAULT_CSS = DIALOG_CSS.format(name="SwitchAccountDialog")
    BINDINGS = [Binding("escape", "dismiss(None)", "cancel")]

    def __init__(self, accounts: list[str], current: str | None) -> None:
        super().__init__()
        self._accounts = accounts
        self._current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Switch to an account on this device:")
            yield OptionList(*(Option(f"{'* ' if a == self._current else '  '}{a}", id=a) for a in self._accounts),
                             id="accounts")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
