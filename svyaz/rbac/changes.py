"""The role-change event on Kafka: a hint that one account's assignments changed in the store.

The event is a notice, not the data: a watcher that receives it re-reads that account from the
store, so events may arrive twice, late or out of order without harm. Keyed by account, so the
changes of one account stay ordered on one partition.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

from svyaz.rbac.errors import RbacError

TOPIC = "rbac.changes"
_VERSION = 1
_OPS = ("grant", "revoke")


def changes_topic(topic_prefix: str) -> str:
    return f"{topic_prefix}{TOPIC}"


class MalformedChange(RbacError):
    code = "malformed_change"


@dataclass(frozen=True)
class RoleChange:
    account: str
    op: str
    role: str
    region: str
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def key(self) -> bytes:
        return self.account.encode()

    def encode(self) -> bytes:
        return json.dumps({
            "v": _VERSION, "event_id": self.event_id, "account": self.account,
            "op": self.op, "role": self.role, "region": self.region,
        }, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, value: bytes) -> RoleChange:
        try:
            raw = json.loads(value)
            change = cls(account=raw["account"], op=raw["op"], role=raw["role"], region=raw["region"],
                         event_id=raw["event_id"])
        except (ValueError, TypeError, KeyError) as err:
            raise MalformedChange(f"not a role change: {err}") from err
        if not all(isinstance(v, str) for v in vars(change).values()) or change.op not in _OPS:
            raise MalformedChange("not a role change: wrong field types or op")
        return change
