"""Reading a call's arguments: present, of the right type, within limits — else `invalid_field`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from svyaz.node.errors import InvalidField

if TYPE_CHECKING:
    from svyaz.node.api import Call

MAX_TEXT = 1024


def text(args: Mapping[str, Any], name: str, *, limit: int = MAX_TEXT) -> str:
    value = args.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidField(f'"{name}" is required and must be a non-empty string')
    if len(value) > limit:
        raise InvalidField(f'"{name}" is longer than {limit} characters')
    return value


def optional_text(args: Mapping[str, Any], name: str, *, limit: int = MAX_TEXT) -> str | None:
    return None if args.get(name) in (None, "") else text(args, name, limit=limit)


def flag(args: Mapping[str, Any], name: str) -> bool:
    value = args.get(name, False)
    if not isinstance(value, bool):
        raise InvalidField(f'"{name}" must be true or false')
    return value


def me(call: Call) -> str:
    return call.caller.principal.actor


def only(call: Call, *names: str) -> Mapping[str, Any]:
    """The call's arguments, refusing any it does not take (a misspelt name is an error, not ignored)."""
    unknown = sorted(set(call.args) - set(names))
    if unknown:
        raise InvalidField(f"{call.action} takes no argument {unknown[0][:40]!r}; it takes {', '.join(names)}")
    return call.args


def seq_arg(args: Mapping[str, Any], name: str) -> int:
    """A sequence number (or a count): a positive integer."""
    value = args.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 10**12:
        raise InvalidField(f'"{name}" must be a positive integer')
    return value


def optional_seq(args: Mapping[str, Any], name: str) -> int | None:
    return None if args.get(name) is None else seq_arg(args, name)


def optional_position(args: Mapping[str, Any], name: str) -> int | None:
    """A position in a chat, where 0 means before the first message (`after: 0` reads from the start)."""
    value = args.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 10**12:
        raise InvalidField(f'"{name}" must be a non-negative integer')
    return value
