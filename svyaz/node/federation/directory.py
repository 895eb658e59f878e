"""Looking up an account of another region: whether it exists and its display name, asked of its
home node (`directory.lookup` on the stream `directory/<account>`, answered by `directory.answer`).

The asking node learns no more than the account's own node shows any signed-in user of it; the
answering node tells only about its own residents. Accounts are never deleted, so an account found
is remembered; one not found is asked about again after a minute.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from svyaz.federation.envelope import new_event_id, now_ms
from svyaz.federation.errors import Malformed, NotPermitted
from svyaz.node.federation.commands import Requests
from svyaz.node.federation.forwarder import Outbox
from svyaz.node.federation.payload import PayloadFields

LOOKUP, ANSWER = "directory.lookup", "directory.answer"
STREAM_PREFIX = "directory/"
_KNOWN_ACCOUNTS = 100_000
_UNKNOWN_FOR_S = 60.0  # an account not found may be registered a minute later
_DISPLAY_NAME_CHARS = 64

# account -> (exists, display name), from this node's identity store
LocalLookup = Callable[[str], Awaitable[tuple[bool, str]]]


class RemoteDirectory:
    def __init__(self, requests: Requests, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._requests = requests
        self._clock = clock
        self._found: OrderedDict[str, str] = OrderedDict()
        self._missing: OrderedDict[str, float] = OrderedDict()

    async def lookup(self, account: str) -> dict[str, Any]:
        """`{"account", "exists", "display_name"}` for `account`, a well-formed id of a peer region.
        NotConfirmed if its node does not answer in time."""
        if account in self._found:
            self._found.move_to_end(account)
            return _entry(account, True, self._found[account])
        if self._clock() < self._missing.get(account, 0.0):
            return _entry(account, False, "")
        request_id = new_event_id()
        answer = await self._requests.ask(
            destination=account.rpartition(":")[2], stream=STREAM_PREFIX + account, kind=LOOKUP,
            payload={"request_id": request_id, "account": account}, request_id=request_id,
            what=f"the lookup of {account}")
        if answer["exists"]:
            _bounded_put(self._found, account, answer["display_name"])
        else:
            _bounded_put(self._missing, account, self._clock() + _UNKNOWN_FOR_S)
        return _entry(account, answer["exists"], answer["display_name"])

    async def exists(self, account: str) -> bool:
        return (await self.lookup(account))["exists"]


@dataclass(frozen=True)
class DirectoryApplier:
    """Answers peers' lookups of this region's accounts, and hands their answers to the asker."""

    region: str
    local_lookup: LocalLookup
    requests: Requests
    outbox: Outbox

    @staticmethod
    def handles(kind: str) -> bool:
        return kind in (LOOKUP, ANSWER)

    async def apply(self, *, origin: str, stream: str, kind: str, payload: Mapping[str, Any]) -> None:
        fields = PayloadFields(payload, kind)
        request_id = fields.string("request_id", 64)
        if kind == LOOKUP:
            account = fields.account("account")
            fields.done({"request_id", "account"})
            _check_stream(stream, account, home=self.region, what=kind)
            exists, display_name = await self.local_lookup(account)
            await self.outbox.send(destination=origin, stream=stream, kind=ANSWER, event_id=new_event_id(),
                                   created_at_ms=now_ms(), payload={"request_id": request_id, "exists": exists,
                                                                    "display_name": display_name if exists else ""})
            return
        exists = fields.flag("exists")
        display_name = fields.string("display_name", _DISPLAY_NAME_CHARS)
        fields.done({"request_id", "exists", "display_name"})
        _check_stream(stream, stream[len(STREAM_PREFIX):], home=origin, what=kind)
        self.requests.answered(request_id, {"exists": exists, "display_name": display_name})


def _check_stream(stream: str, account: str, *, home: str, what: str) -> None:
    """A lookup is about one account, on its own stream, and only its home node answers it."""
    if stream != STREAM_PREFIX + account:
        raise Malformed(f"a {what} travels on the stream of the account it is about")
    if account.rpartition(":")[2] != home:
        raise NotPermitted(f"{what} about {account[:80]} from or to a node that is not its home")


def _entry(account: str, exists: bool, display_name: str) -> dict[str, Any]:
    return {"account": account, "exists": exists, "display_name": display_name}


def _bounded_put(cache: OrderedDict, key: str, value: Any) -> None:
    cache[key] = value
    cache.move_to_end(key)
    if len(cache) > _KNOWN_ACCOUNTS:
        cache.popitem(last=False)
