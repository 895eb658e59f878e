"""Which sequence numbers a history page covers: pure arithmetic on the chat's head."""

from __future__ import annotations

from svyaz.messaging.errors import InvalidMessage

MAX_PAGE = 100


def page_range(head: int, *, before: int | None, after: int | None, limit: int) -> range:
    """Up to `limit` (clamped to 1..MAX_PAGE) seqs older than `before` (default: up to the newest),
    or newer than `after`; ascending."""
    if before is not None and after is not None:
        raise InvalidMessage("give before or after, not both")
    limit = max(1, min(int(limit), MAX_PAGE))
    if after is not None:
        return range(max(after, 0) + 1, min(head, after + limit) + 1)
    top = head if before is None else min(before - 1, head)
    return range(max(top - limit + 1, 1), top + 1)
