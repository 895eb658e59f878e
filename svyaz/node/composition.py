"""The node's API, composed from the domain packages: identity, RBAC, the audit log, messaging.

`open_node_api` opens their adapters (each opens without waiting for its server, so a node whose
store or Kafka is down still starts and reports 503), wires handlers to the one guard, and yields
what the gateway needs plus the services the node's nursery must run.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import trio
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from svyaz.compliance.audit.checkpoint import CheckpointPolicy
from svyaz.compliance.lawful.export import LawfulExports
from svyaz.errors import SvyazError
from svyaz.compliance.audit.log import AuditLog, open_audit_log
from svyaz.gost.signing import load_or_generate_keypair
from svyaz.identity.errors import StoreUnavailable
from svyaz.identity.service import IdentityConfig, IdentityService
from svyaz.identity.store import IdentityStore
from svyaz.node.api import Api
from svyaz.node.authn import IdentityAuthenticator
from svyaz.node.config import NodeConfig
from svyaz.node.handlers.identity import IdentityHandlers
from svyaz.node.handlers.lawful import LawfulHandlers
from svyaz.node.handlers.lawful_export import LawfulExportHandlers
from svyaz.node.handlers.messages import MessageHandlers
from svyaz.node.handlers.own_data import OwnDataHandlers
from svyaz.node.handlers.safety import SafetyHandlers
from svyaz.node.handlers.secret import SecretChatHandlers
from svyaz.node.handlers.shared_chats import SharedChatHandlers
from svyaz.node.handlers.roles import RoleHandlers
from svyaz.node.keys import load_or_create_token_keyring
from svyaz.node.federation.service import Asking, Federation, block_relay, build_federation, open_outbox_for
from svyaz.node.handlers.directory import DirectoryHandlers
from svyaz.node.messaging import Messaging, open_messaging
from svyaz.node.metrics import NodeMetrics
from svyaz.rbac.administration import RoleAdministration
from svyaz.rbac.guard import Guard
from svyaz.rbac.loader import RoleLoader
from svyaz.rbac.policy import load_policy
from svyaz.rbac.publisher import open_change_publisher
from svyaz.rbac.store import open_role_store
from svyaz.rbac.watcher import RoleWatcher

logger = logging.getLogger("svyaz.node.composition")

IDENTITY_INDEX_RETRY_S = 2.0


@dataclass(frozen=True)
class NodeApi:
    api: Api
    authenticator: IdentityAuthenticator
    audit: AuditLog
    role_watcher: RoleWatcher
    identity_store: IdentityStore
    roles_loaded: trio.Event
    messaging: Messaging
    federation: Federation | None
    lawful: LawfulExports      # for the node's lawful-access sweep

    async def run_role_watcher(self) -> None:
        """The watcher, marking the roles loaded once it has read them all (it may wait for Kafka)."""
        async with trio.open_nursery() as nursery:
            await nursery.start(self.role_watcher.run)
            self.roles_loaded.set()


class RolesNotLoaded(SvyazError):
    code = "unavailable"


@asynccontextmanager
async def open_node_api(config: NodeConfig, metrics: NodeMetrics | None = None) -> AsyncIterator[NodeApi]:
    region, store, kafka = config.region, config.store, config.kafka
    policy = load_policy(Path(config.rbac.policy_dir) / "model.conf", Path(config.rbac.policy_dir) / "policy.csv")
    signer = await trio.to_thread.run_sync(load_or_generate_keypair, config.data_path / "audit")
    keyring = await trio.to_thread.run_sync(load_or_create_token_keyring, config.data_path)
    checkpoints = CheckpointPolicy(every_entries=config.audit.checkpoint_every_entries,
                                   every_seconds=config.audit.checkpoint_every_s)
    limiter = trio.CapacityLimiter(store.max_threads)
    async with (
        open_audit_log(store.url, store.database_prefix, signer=signer, policy=checkpoints,
                       timeout_s=store.timeout_s) as audit,
        open_role_store(store.url, store.database_prefix, timeout_s=store.timeout_s) as role_store,
        open_change_publisher(kafka.bootstrap_servers, kafka.topic_prefix, client_id=config.node.id,
                              timeout_s=max(kafka.timeout_s, 5.0)) as publisher,
        _open_store_client(config, limiter) as client,
    ):
        identity_store = IdentityStore(client[f"{store.database_prefix}_core"])
        guard = Guard(policy, audit)
        loader = RoleLoader(role_store, policy.index)

        roles_loaded = trio.Event()

        def granted_roles(account: str) -> tuple[str, ...]:
            # Before the first load the index is empty, which would wrongly let an admin sign in
            # without 2FA: refuse (fail closed) until the watcher has read every assignment.
            if not roles_loaded.is_set():
                raise RolesNotLoaded("this node is still loading role assignments; try again in a moment")
            return tuple(sorted(policy.index.roles_of(account, region)))

        identity = IdentityService(
            identity_store, keyring,
            IdentityConfig(region, password_iterations=config.identity.password_iterations,
                           access_lifetime_s=config.identity.access_lifetime_s),
            granted_roles=granted_roles,
        )

        async def has_second_factor(account: str) -> bool:
            return await trio.to_thread.run_sync(identity.has_confirmed_second_factor, account, limiter=limiter)

        administration = RoleAdministration(guard, role_store, publisher, loader, audit,
                                            second_factor=has_second_factor)
        async with open_outbox_for(config, client, limiter) as outbox:
            # Questions to other regions' nodes go out through the outbox; the applier hands back the answers.
            asking = Asking.through(outbox, wait_s=config.federation.answer_wait_s)
            async with open_messaging(config, client, identity_store, limiter, peers=asking.peers,
                                      block_relay=block_relay(outbox) if outbox is not None else None,
                                      home=asking.home, remote_accounts=asking.directory,
                                      remote_prekeys=asking.prekeys) as messaging:
                federation = None if outbox is None else build_federation(
                    config, client, limiter, outbox=outbox, asking=asking, messaging=messaging, audit=audit,
                    metrics=metrics)
                lawful_exports = await LawfulExportHandlers.wired(
                    config, client=client, limiter=limiter, audit=audit, guard=guard, messaging=messaging,
                    identity_store=identity_store)
                handlers = {
                    **IdentityHandlers(identity, audit, limiter=limiter, granted_roles=granted_roles).routes(),
                    **RoleHandlers(administration).routes(),
                    **MessageHandlers(messaging.chats, messaging.groups, messaging.channels, messaging.overview).routes(),
                    **SharedChatHandlers(messaging.groups, messaging.channels).routes(),
                    **SafetyHandlers(messaging.moderation, messaging.presence, audit).routes(),
                    **SecretChatHandlers(messaging.prekeys, messaging.chats, messaging.moderation, audit,
                                        groups=messaging.groups).routes(),
                    **DirectoryHandlers(region=region, local=messaging.directory.lookup, remote=asking.directory,
                                        peers=asking.peers).routes(),
                    **OwnDataHandlers.wired(messaging=messaging, identity_store=identity_store, limiter=limiter, audit=audit).routes(),
                    **LawfulHandlers.wired(region=region, database=client[f"{store.database_prefix}_compliance"], limiter=limiter, audit=audit, guard=guard, account_exists=messaging.directory.exists).routes(),
                    **lawful_exports.routes(),
                }
                yield NodeApi(
                    api=Api(region=region, guard=guard, handlers=handlers, self_checked=RoleHandlers.SELF_CHECKED),
                    authenticator=IdentityAuthenticator(identity, limiter=limiter),
                    audit=audit,
                    role_watcher=RoleWatcher(loader, bootstrap_servers=kafka.bootstrap_servers,
                                             topic_prefix=kafka.topic_prefix,
                                             reload_interval_s=config.rbac.reload_interval_s,
                                             client_id=config.node.id, kafka_timeout_s=kafka.timeout_s),
                    identity_store=identity_store,
                    roles_loaded=roles_loaded,
                    messaging=messaging,
                    federation=federation,
                    lawful=lawful_exports.exports,
                )


@asynccontextmanager
async def _open_store_client(config: NodeConfig, limiter: trio.CapacityLimiter) -> AsyncIterator[MongoClient]:
    """One client (one connection pool) for identity and messaging."""
    timeout_ms = int(config.store.timeout_s * 1000)
    client = await trio.to_thread.run_sync(partial(
        MongoClient, config.store.url, appname="svyaz-node", serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms, socketTimeoutMS=timeout_ms), limiter=limiter, abandon_on_cancel=True)
    try:
        yield client
    finally:
        with trio.move_on_after(config.store.timeout_s, shield=True):
            await trio.to_thread.run_sync(client.close, abandon_on_cancel=True)


async def keep_identity_indexes(store: IdentityStore, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Create the identity indexes once the store answers: a node may start while it is down."""
    task_status.started()
    while True:
        try:
            await trio.to_thread.run_sync(store.ensure_indexes, abandon_on_cancel=True)
            return
        except (StoreUnavailable, PyMongoError) as err:
            logger.warning("identity indexes not created yet; retrying", extra={"error": str(err)})
            await trio.sleep(IDENTITY_INDEX_RETRY_S)
