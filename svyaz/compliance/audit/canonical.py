"""The canonical byte form that audit hashes and checkpoint signatures are computed over.

A JSON object, UTF-8, no whitespace, members sorted by key (code point order, which is also UTF-8
byte order), values restricted to strings, non-negative integers and nested objects of the same.
Strings escape `"` and `\\` with a backslash; U+0008, U+0009, U+000A, U+000C, U+000D as `\\b \\t \\n
\\f \\r`; every other code point below U+0020, and U+007F, as `\\u00xx` (lowercase hex); everything
else is written as itself. This is byte for byte what `jq -jcS .` prints for such a value, so an
auditor can rebuild it without Svyaz (see docs/audit.md). Pure: standard library only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def canonical_json(value: Mapping[str, object]) -> bytes:
    """`value` in canonical form; ValueError if it holds anything but str, int >= 0 and objects."""
    _check(value, "")
    # Python's encoder leaves DEL as is; jq escapes it. Outside strings JSON has no DEL, so a
    # plain replace only ever touches string contents.
    text = _ENCODER.encode(value).replace("\x7f", "\\u007f")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as err:  # a lone surrogate has no UTF-8 form
        raise ValueError("a string holds a lone UTF-16 surrogate, which has no UTF-8 form") from err


def _check(value: object, path: str) -> None:
    if isinstance(value, str):
        return
    # bool is an int subclass; floats have more than one spelling. Neither may enter a hash.
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"{path or 'value'}: negative integers are not canonical here")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{path or 'value'}: key {key!r} is not a string")
            _check(item, f"{path}.{key}" if path else key)
        return
    raise ValueError(f"{path or 'value'}: {type(value).__name__} values cannot be hashed canonically")
