"""Removing secrets from text before it reaches a log line, an HTTP body or an error message.

Driver errors and configuration values can carry connection URLs such as
`mongodb://user:password@host/`; anything the node prints passes through `redact_secrets` first.
"""

from __future__ import annotations

import re

MASK = "***"

# `scheme://userinfo@` — the userinfo part (user, or user:password) of any URL.
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/?#@\s]+@")
# `password=...`, `sasl.password=...`, `?token=...`: secrets passed as URL query or key=value text.
_SECRET_ASSIGNMENT = re.compile(
    r"(?P<key>\b[\w.-]*(?:password|passwd|secret|token|api[_-]?key)[\w.-]*)=(?P<value>[^&\s;,'\"]+)",
    re.IGNORECASE,
)
_SECRET_NAME = re.compile(r"password|passwd|secret|token|api[_-]?key|credential", re.IGNORECASE)


def redact_secrets(text: str) -> str:
    """`text` with URL credentials and `...password=value` pairs replaced by `***`."""
    text = _URL_USERINFO.sub(rf"\g<scheme>{MASK}@", text)
    return _SECRET_ASSIGNMENT.sub(rf"\g<key>={MASK}", text)


def is_secret_name(name: str) -> bool:
    """True for field names whose value must never be shown, whatever it looks like."""
    return bool(_SECRET_NAME.search(name))
