"""Small modal dialogs: type an account id for a new private chat; pick an account on this device;
and the forms that ask the node for something (a new group or channel, a subscription, an
invitation), which stay open with what was typed until the node says yes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from svyaz.tui.state import ACCOUNT_SHAPE, describe_error, form_problem

DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 64; height: auto; border: round $accent; padding: 1 2; background: $surface; }}
{name} Label {{ width: 1fr; }}
{name} Label.-error {{ color: $error; }}
{name} Label.-hint {{ color: $text-muted; }}
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


# kind -> the heading, and each field as (id, label, placeholder)
FORMS: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
    "group": ("New group", [("title", "Title", "e.g. Team"),
                            ("members", "Members (comma separated, may be empty)", "@bob:ru, @carol:ru")]),
    "channel": ("New channel", [("title", "Title", "e.g. News")]),
    "subscribe": ("Subscribe to a channel", [("channel", "Channel id", "c/ru/0123abcd…")]),
    "invite": ("Invite to {title}", [("accounts", "Accounts (comma separated)", "@bob:ru, @carol:ru")]),
}

Submit = Callable[[dict[str, str]], Awaitable[dict[str, Any]]]


class FormDialog(ModalScreen[dict[str, Any] | None]):
    """One of FORMS. Enter (in any field) checks the fields, then `submit(values)`; the dialog
    closes with the node's answer, or stays, fields as typed, with the refusal in words."""

    DEFAULT_CSS = DIALOG_CSS.format(name="FormDialog")
    BINDINGS = [Binding("escape", "dismiss(None)", "cancel")]

    def __init__(self, kind: str, submit: Submit, *, title: str = "") -> None:
        super().__init__()
        self.kind = kind
        self._submit = submit
        self._heading = FORMS[kind][0].format(title=title)
        self._busy = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]{escape(self._heading)}[/]")
            for field, label, placeholder in FORMS[self.kind][1]:
                yield Label(label)
                yield Input(placeholder=placeholder, id=field)
            yield Label("Enter: ok   Tab: next field   Esc: cancel", id="problem", classes="-hint")

    def values(self) -> dict[str, str]:
        return {field: self.query_one(f"#{field}", Input).value for field, _, _ in FORMS[self.kind][1]}

    def _say(self, text: str, *, error: bool) -> None:
        problem = self.query_one("#problem", Label)
        problem.set_class(error, "-error")
        problem.set_class(not error, "-hint")
        problem.update(text)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._busy:
            return
        values = self.values()
        problem = form_problem(self.kind, values)
        if problem:
            self._say(problem, error=True)
            return
        self._busy = True
        self._say("asking the node…", error=False)
        self.run_worker(self._send(values), exclusive=True)

    async def _send(self, values: dict[str, str]) -> None:
        try:
            result = await self._submit(values)
        except Exception as err:  # the node's refusal (or a lost connection), in words; the fields stay
            self._say(describe_error(err), error=True)
            return
        finally:
            self._busy = False
        self.dismiss(result)
