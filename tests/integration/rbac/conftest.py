"""Real "processes" of one node for the rbac tests: each its own enforcer, store client, producer
and watcher, and its own identity service, all against the shared stack's ru FerretDB and Kafka,
isolated by the test's id.

Identity is wired as the node wires it: its `granted_roles` port reads this process's role index,
and `role.grant` asks its `has_confirmed_second_factor` (in a thread) through the `second_factor`
port. Both live in the test's `<id>_core` database, as they share `<prefix>_core` on a node.

The audit sink is an in-memory recorder: the audit log is another package's, and these tests are
about the store and Kafka, which are real.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from functools import partial

import pytest
import trio
from confluent_kafka.admin import AdminClient
from pymongo import MongoClient

from svyaz.identity.service import Device, IdentityConfig, IdentityService
from svyaz.identity.store import IdentityStore
from svyaz.identity.tokens import Keyring
from svyaz.identity.totp import code_at, time_step
from svyaz.rbac.administration import RoleAdministration
from svyaz.rbac.assignment import RoleAssignment
from svyaz.rbac.changes import changes_topic
from svyaz.rbac.guard import Guard
from svyaz.rbac.loader import RoleLoader
from svyaz.rbac.policy import load_policy
from svyaz.rbac.publisher import open_change_publisher
from svyaz.rbac.store import MongoRoleStore, core_database, open_role_store
from svyaz.rbac.watcher import RoleWatcher
from tests.unit.rbac.fakes import RecordingSink

PASSWORD = "correct horse battery"
HOME = Device(address="10.0.0.1", name="laptop")
KEYRING = Keyring("k1", {"k1": b"\x11" * 32})


@dataclass
class NodeProcess:
    guard: Guard
    admin: RoleAdministration
    watcher: RoleWatcher
    loader: RoleLoader
    store: MongoRoleStore
    sink: RecordingSink
    identity: IdentityService

    async def call(self, method: Callable, *args, **kwargs):
        """Run a blocking identity call in a thread, as the gateway does."""
        return await trio.to_thread.run_sync(partial(method, *args, **kwargs))


OpenProcess = Callable[..., AbstractAsyncContextManager[NodeProcess]]
WithSecondFactor = Callable[[NodeProcess, str], Awaitable[str]]


@pytest.fixture
def topic_prefix(test_id: str) -> str:
    return f"{test_id}."


@pytest.fixture
def mongo_ru(stack) -> str:
    return stack.mongo("ru")


@pytest.fixture
def kafka_ru(stack) -> str:
    return stack.kafka("ru")


@pytest.fixture
async def role_store(mongo_ru, test_id) -> AsyncIterator[MongoRoleStore]:
    """A store client of the test's own, to arrange and inspect data; drops the test's database after."""
    async with open_role_store(mongo_ru, test_id) as store:
        yield store
    await trio.to_thread.run_sync(_drop_database, mongo_ru, core_database(test_id))


@pytest.fixture
async def seeded(role_store):
    """The node's first admin, put in the store by the operator before any process starts."""
    await role_store.grant(RoleAssignment("@root:ru", "admin", "ru", granted_by="operator"))
    return role_store


@pytest.fixture
def with_second_factor() -> WithSecondFactor:
    """Register `account` through `process`'s identity and confirm TOTP for it; returns the secret."""

    async def register_and_enrol(process: NodeProcess, account: str) -> str:
        await process.call(process.identity.register, account, PASSWORD)
        enrolment = await process.call(process.identity.begin_totp_enrolment, account, PASSWORD, device=HOME)
        code = code_at(enrolment.secret, time_step(time.time()))
        await process.call(process.identity.confirm_totp, account, PASSWORD, code, device=HOME)
        return enrolment.secret

    return register_and_enrol


@pytest.fixture
async def open_process(mongo_ru, kafka_ru, test_id, topic_prefix) -> AsyncIterator[OpenProcess]:
    """Opens node processes; the test's change topic is deleted afterwards. (An autouse async
    fixture would not do: pytest-trio runs only the async fixtures a test reaches through its
    arguments.)"""

    @asynccontextmanager
    async def open_(*, reload_interval_s: float = 60.0) -> AsyncIterator[NodeProcess]:
        sink = RecordingSink()
        async with (open_role_store(mongo_ru, test_id) as store,
                    open_change_publisher(kafka_ru, topic_prefix) as publisher,
                    trio.open_nursery() as nursery):
            policy = load_policy()
            loader = RoleLoader(store, policy.index)
            watcher = RoleWatcher(loader, bootstrap_servers=kafka_ru, topic_prefix=topic_prefix,
                                  reload_interval_s=reload_interval_s)
            with trio.fail_after(30):
                await nursery.start(watcher.run)
            guard = Guard(policy, sink)
            client: MongoClient = await trio.to_thread.run_sync(
                partial(MongoClient, mongo_ru, serverSelectionTimeoutMS=5000))
            try:
                identity_store = IdentityStore(client[core_database(test_id)])
                await trio.to_thread.run_sync(identity_store.ensure_indexes)
                identity = IdentityService(identity_store, KEYRING, IdentityConfig(region="ru"),
                                           granted_roles=lambda account: policy.index.roles_of(account, "ru"))

                async def second_factor(account: str) -> bool:
                    return await trio.to_thread.run_sync(identity.has_confirmed_second_factor, account)

                admin = RoleAdministration(guard, store, publisher, loader, sink, second_factor=second_factor)
                yield NodeProcess(guard, admin, watcher, loader, store, sink, identity)
            finally:
                nursery.cancel_scope.cancel()
                client.close()

    yield open_
    await trio.to_thread.run_sync(_delete_topic, kafka_ru, changes_topic(topic_prefix))


def _drop_database(url: str, name: str) -> None:
    client: MongoClient = MongoClient(url, serverSelectionTimeoutMS=5000)
    try:
        client.drop_database(name)
    finally:
        client.close()


def _delete_topic(bootstrap: str, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.delete_topics([topic], operation_timeout=10).values():
        try:
            future.result(timeout=15)
        except Exception:  # noqa: BLE001 - a test that never created the topic has nothing to delete
            pass
