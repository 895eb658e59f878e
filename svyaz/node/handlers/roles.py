"""role.grant, role.revoke, role.list: who holds which role in which region (admins; auditors list)."""

from __future__ import annotations

from typing import Any

from svyaz.node.api import Call, Handler
from svyaz.node.handlers.args import optional_text, text
from svyaz.rbac.administration import RoleAdministration


class RoleHandlers:
    def __init__(self, administration: RoleAdministration) -> None:
        self._administration = administration

    # RoleAdministration checks each call again in the region it changes, naming the account, and
    # records that `allowed` entry: the Api's own check must not add a second one.
    SELF_CHECKED = frozenset({"role.grant", "role.revoke", "role.list"})

    def routes(self) -> dict[str, Handler]:
        return {"role.grant": self.grant, "role.revoke": self.revoke, "role.list": self.list}

    def _region(self, call: Call) -> str:
        return optional_text(call.args, "region", limit=8) or call.region

    async def grant(self, call: Call) -> dict[str, Any]:
        assignment = await self._administration.grant(
            call.caller.principal, account=text(call.args, "account", limit=64), role=text(call.args, "role", limit=32),
            region=self._region(call), request_id=call.request_id)
        return {"account": assignment.account, "role": assignment.role, "region": assignment.region}

    async def revoke(self, call: Call) -> dict[str, Any]:
        changed = await self._administration.revoke(
            call.caller.principal, account=text(call.args, "account", limit=64), role=text(call.args, "role", limit=32),
            region=self._region(call), request_id=call.request_id)
        return {"revoked": changed}

    async def list(self, call: Call) -> dict[str, Any]:
        assignments = await self._administration.list(
            call.caller.principal, region=self._region(call), account=optional_text(call.args, "account", limit=64),
            request_id=call.request_id)
        return {"assignments": [{"account": a.account, "role": a.role, "region": a.region} for a in assignments]}
