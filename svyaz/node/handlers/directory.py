"""directory.lookup: whether an account exists and what it is called, here or, through federation,
in another region. Others see no more of an account than its display name."""

from __future__ import annotations

from typing import Any

from svyaz.identity.accounts import parse_account_id
from svyaz.identity.errors import MalformedAccountId
from svyaz.messaging.errors import Unreachable
from svyaz.node.api import Call, Handler
from svyaz.node.errors import InvalidField
from svyaz.node.federation.directory import LocalLookup, RemoteDirectory
from svyaz.node.handlers.args import only, text
from svyaz.node.handlers.messages import ID_LIMIT


class DirectoryHandlers:
    def __init__(self, *, region: str, local: LocalLookup, remote: RemoteDirectory | None,
                 peers: frozenset[str]) -> None:
        self._region = region
        self._local = local
        self._remote = remote
        self._peers = peers

    def routes(self) -> dict[str, Handler]:
        return {"directory.lookup": self.lookup}

    async def lookup(self, call: Call) -> dict[str, Any]:
        args = only(call, "account")
        try:
            account = parse_account_id(text(args, "account", limit=ID_LIMIT))
        except MalformedAccountId as err:
            raise InvalidField(str(err), hint=err.hint) from None
        if account.region == self._region:
            exists, display_name = await self._local(str(account))
            return {"account": str(account), "exists": exists, "display_name": display_name}
        if self._remote is None or account.region not in self._peers:
            raise Unreachable(f"{account} lives in region {account.region}, which this node does not federate with")
        return await self._remote.lookup(str(account))
