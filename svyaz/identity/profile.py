"""An account's public profile and privacy settings: what others may see of it, validated here.

`display_name` and `about` are shown to other users; `presence` says who may see when the account
was last online (everyone, its contacts, nobody); the messaging core honours it. Changes name only
the fields they change; unknown fields and bad values are refused whole, so nothing half-applies.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace

from svyaz.identity.errors import InvalidProfile

DISPLAY_NAME_LIMIT = 64
ABOUT_LIMIT = 280
PRESENCE_AUDIENCES = ("everyone", "contacts", "nobody")


@dataclass(frozen=True)
class Profile:
    display_name: str = ""
    about: str = ""
    presence: str = "everyone"

    def as_dict(self) -> dict[str, str]:
        return {"display_name": self.display_name, "about": self.about, "presence": self.presence}


def apply_changes(profile: Profile, changes: Mapping[str, object]) -> Profile:
    """`profile` with `changes` applied; InvalidProfile naming the first bad field otherwise."""
    unknown = sorted(set(changes) - set(Profile().as_dict()))
    if unknown:
        raise InvalidProfile(unknown[0], f"there is no profile field {unknown[0][:32]!r}",
                             hint=f"the fields are {', '.join(Profile().as_dict())}")
    if not changes:
        raise InvalidProfile("-", "nothing to change", hint="give at least one field")
    values = {}
    for name, value in changes.items():
        if not isinstance(value, str):
            raise InvalidProfile(name, f"{name} must be a string")
        values[name] = _checked(name, unicodedata.normalize("NFC", value.strip()))
    return replace(profile, **values)


def _checked(name: str, value: str) -> str:
    if name == "presence":
        if value not in PRESENCE_AUDIENCES:
            raise InvalidProfile(name, f"presence must be one of {', '.join(PRESENCE_AUDIENCES)}")
        return value
    limit = DISPLAY_NAME_LIMIT if name == "display_name" else ABOUT_LIMIT
    if len(value) > limit:
        raise InvalidProfile(name, f"{name} is longer than {limit} characters")
    # Control and format characters (bidi overrides, zero-width joiners) let one name pass for another.
    allowed_newlines = "\n" if name == "about" else ""
    if any(unicodedata.category(ch) in {"Cc", "Cf"} and ch not in allowed_newlines for ch in value):
        raise InvalidProfile(name, f"{name} contains control or invisible formatting characters")
    return value
