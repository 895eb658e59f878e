"""`svyaz node bootstrap-admin`: the first admin of a region, granted by the operator.

No account can grant the first admin through the API (granting needs an admin), so the operator,
on the node's machine and with the node's configuration, writes the assignment to the store. The
same rules as an API grant hold: the account must exist in this region and have confirmed 2FA.
It works only while the region has no admin, and is written to the audit log as the operator's act.
"""

from __future__ import annotations

import getpass
import logging

import trio
from pymongo import MongoClient

from svyaz.compliance.audit.event import AuditEvent
from svyaz.compliance.audit.log import open_audit_log
from svyaz.errors import SvyazError
from svyaz.gost import load_gost_provider
from svyaz.gost.signing import load_or_generate_keypair
from svyaz.identity.service import IdentityConfig, IdentityService
from svyaz.identity.store import IdentityStore
from svyaz.node.config import NodeConfig
from svyaz.node.keys import load_or_create_token_keyring
from svyaz.rbac.assignment import RoleAssignment
from svyaz.rbac.changes import RoleChange
from svyaz.rbac.publisher import open_change_publisher
from svyaz.rbac.roles import ADMIN
from svyaz.rbac.store import open_role_store

logger = logging.getLogger("svyaz.node.bootstrap")


class BootstrapRefused(SvyazError):
    code = "bootstrap_refused"


async def bootstrap_admin(config: NodeConfig, account: str) -> RoleAssignment:
    load_gost_provider()
    store = config.store
    operator = f"operator:{getpass.getuser()}"
    async with open_role_store(store.url, store.database_prefix, timeout_s=store.timeout_s) as roles:
        if any(a.role == ADMIN for a in await roles.list(region=config.region)):
            raise BootstrapRefused(f"region {config.region} already has an admin",
                                   hint="an admin grants further roles with `svyaz role grant`")
        if not await trio.to_thread.run_sync(_has_confirmed_second_factor, config, account):
            raise BootstrapRefused(
                f"{account} does not exist in region {config.region} or has no confirmed 2FA; "
                "an admin must use two-factor authentication",
                hint=f"register it, then `svyaz 2fa enable` and `svyaz 2fa confirm` as {account}")
        signer = await trio.to_thread.run_sync(load_or_generate_keypair, config.data_path / "audit")
        assignment = RoleAssignment(account, ADMIN, config.region, granted_by=operator)
        async with open_audit_log(store.url, store.database_prefix, signer=signer, timeout_s=store.timeout_s) as audit:
            # Audited first: if the audit log cannot be written, nothing is granted (fail closed).
            await audit.record(AuditEvent(actor=operator, role="operator", action="role.grant", target=account,
                                          region=config.region, request_id="bootstrap-admin", outcome="allowed",
                                          detail={"role": ADMIN, "path": "bootstrap-admin"}))
            await roles.grant(assignment)
    try:  # running nodes pick the grant up at once; otherwise at their next full reload
        async with open_change_publisher(config.kafka.bootstrap_servers, config.kafka.topic_prefix) as publisher:
            await publisher.publish(RoleChange(account=account, op="grant", role=ADMIN, region=config.region))
    except SvyazError as err:
        logger.warning("admin granted but not announced; nodes see it at their next full reload",
                       extra={"error": str(err)})
    return assignment


def _has_confirmed_second_factor(config: NodeConfig, account: str) -> bool:
    with MongoClient(config.store.url, serverSelectionTimeoutMS=int(config.store.timeout_s * 1000)) as client:
        service = IdentityService(
            IdentityStore(client[f"{config.store.database_prefix}_core"]),
            load_or_create_token_keyring(config.data_path), IdentityConfig(config.region),
            granted_roles=lambda _account: (),
        )
        return service.has_confirmed_second_factor(account)
