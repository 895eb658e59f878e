"""Reading a federation payload strictly: each field read once and checked, and anything left
unread refused (`done`). A payload is input from another node: every failure is `Malformed`, and
its message names the field, never quotes the value (which could be someone's message)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from svyaz.federation.errors import Malformed
from svyaz.identity.accounts import parse_account_id
from svyaz.identity.errors import MalformedAccountId
from svyaz.messaging.content import clean_text
from svyaz.messaging.errors import InvalidMessage
from svyaz.messaging.ids import check_client_id

MAX_SAFE_INT = 2**53 - 1


class PayloadFields:
    def __init__(self, payload: Mapping[str, Any], what: str) -> None:
        if not isinstance(payload, Mapping):
            raise Malformed(f"{what} payload is not an object")
        self.payload = payload
        self.what = what

    def get(self, name: str) -> Any:
        if name not in self.payload:
            raise Malformed(f"{self.what} lacks {name!r}")
        return self.payload[name]

    def has(self, name: str) -> bool:
        return self.payload.get(name) is not None

    def account(self, name: str) -> str:
        value = self.get(name)
        try:
            if isinstance(value, str):
                return str(parse_account_id(value))
        except MalformedAccountId:
            pass
        raise Malformed(f"{self.what} {name} is not an account id")

    def optional_account(self, name: str) -> str | None:
        return self.account(name) if self.has(name) else None

    def client_id(self, name: str) -> str:
        try:
            return check_client_id(self.get(name))
        except InvalidMessage as err:
            raise Malformed(f"{self.what} {name}: {err}") from None

    def text(self, name: str) -> str:
        """Message text, as a local send would clean it."""
        try:
            return clean_text(self.get(name))
        except InvalidMessage as err:
            raise Malformed(f"{self.what} {name}: {err}") from None

    def string(self, name: str, limit: int) -> str:
        value = self.get(name)
        if not isinstance(value, str) or len(value) > limit:
            raise Malformed(f"{self.what} {name} must be text of at most {limit} characters")
        return value

    def optional_string(self, name: str, limit: int) -> str | None:
        return self.string(name, limit) if self.has(name) else None

    def strings(self, name: str) -> list[str]:
        value = self.payload.get(name, [])
        if not isinstance(value, list) or not all(isinstance(item, str) and len(item) <= 2048 for item in value):
            raise Malformed(f"{self.what} {name} must be a list of text")
        return value

    def choice(self, name: str, allowed: frozenset[str]) -> str:
        value = self.get(name)
        if value not in allowed:
            raise Malformed(f"{self.what} {name} must be one of {', '.join(sorted(allowed))}")
        return value

    def flag(self, name: str) -> bool:
        value = self.payload.get(name, False)
        if not isinstance(value, bool):
            raise Malformed(f"{self.what} {name} must be true or false")
        return value

    def positive(self, name: str) -> int:
        value = self.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_SAFE_INT:
            raise Malformed(f"{self.what} {name} must be a positive integer")
        return value

    def optional_positive(self, name: str) -> int | None:
        return self.positive(name) if self.has(name) else None

    def ms(self, name: str) -> float:
        """A time in integer milliseconds, as seconds."""
        value = self.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SAFE_INT:
            raise Malformed(f"{self.what} {name} must be a time in integer milliseconds")
        return value / 1000

    def done(self, known: set[str]) -> None:
        unknown = set(self.payload) - known
        if unknown:
            raise Malformed(f"{self.what} has unknown fields: {', '.join(sorted(unknown))[:120]}")
