"""Account ids (`@name:region`).

An account lives in exactly one region, the one in its id; the name is unique within it. Roles are
not an identity matter: they are role assignments in `svyaz.rbac` (docs/rbac.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from svyaz.identity.errors import MalformedAccountId
from svyaz.regions import KNOWN_REGIONS

NAME_MIN = 3
NAME_MAX = 32
_NAME_CHARS = re.compile(r"[a-z0-9_.]*")


@dataclass(frozen=True, order=True)
class AccountId:
    name: str
    region: str

    def __post_init__(self) -> None:
        validate_name(self.name)
        validate_region(self.region)

    def __str__(self) -> str:
        return f"@{self.name}:{self.region}"

    @classmethod
    def parse(cls, text: str) -> AccountId:
        return parse_account_id(text)


def parse_account_id(text: str) -> AccountId:
    """`"@alice:ru"` -> AccountId("alice", "ru"); MalformedAccountId says what is wrong and how to write it."""
    if not isinstance(text, str):
        raise MalformedAccountId(f"an account id must be text, not {type(text).__name__}")
    shown = text if len(text) <= 64 else text[:61] + "..."
    if not text.startswith("@") or text.count(":") != 1:
        raise MalformedAccountId(
            f"{shown!r} is not an account id: write it as @name:region",
            hint=f"for example @alice:ru; regions: {', '.join(KNOWN_REGIONS)}",
        )
    name, region = text[1:].split(":")
    try:
        return AccountId(name, region)
    except MalformedAccountId as err:
        raise MalformedAccountId(f"{shown!r} is not an account id: {err}", hint=err.hint) from None


def format_account_id(name: str, region: str) -> str:
    return str(AccountId(name, region))


def validate_name(name: str) -> None:
    """Raise MalformedAccountId unless `name` is 3-32 of [a-z0-9_.], starting with a letter."""
    if not NAME_MIN <= len(name) <= NAME_MAX:
        raise MalformedAccountId(f"the name must be {NAME_MIN}-{NAME_MAX} characters long, not {len(name)}")
    if not _NAME_CHARS.fullmatch(name) and _NAME_CHARS.fullmatch(name.lower()):
        raise MalformedAccountId("the name must be lowercase", hint=f"did you mean {name.lower()!r}?")
    if not _NAME_CHARS.fullmatch(name):
        bad = sorted({c for c in name if not _NAME_CHARS.fullmatch(c)})
        raise MalformedAccountId(
            f"the name may contain only a-z, 0-9, '_' and '.', not {''.join(bad)!r}"
        )
    if not ("a" <= name[0] <= "z"):
        raise MalformedAccountId("the name must start with a letter a-z")


def validate_region(region: str) -> None:
    if region not in KNOWN_REGIONS:
        raise MalformedAccountId(
            f"the region must be one of {', '.join(KNOWN_REGIONS)}, not {region!r}",
        )
