"""Reading a call's arguments: present, of the right type, within limits — else `invalid_field`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from svyaz.node.errors import InvalidField

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
