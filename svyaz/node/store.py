"""The Mongo-wire store adapter (pymongo). This slice only pings it, for readiness.

pymongo blocks, so every call runs in a worker thread behind the store's CapacityLimiter and
never on the event loop; a probe that times out abandons its thread, which then ends on pymongo's
own timeouts instead of holding shutdown up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import trio
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from svyaz.node.config import StoreConfig
from svyaz.node.errors import DependencyUnavailable, NodeError
from svyaz.node.redact import redact_secrets


class MongoStoreProbe:
    """The store `ports.Probe`: a MongoClient `ping` answered means the store is up."""

    def __init__(self, client: MongoClient, limiter: trio.CapacityLimiter) -> None:
        self._client = client
        self._limiter = limiter

    async def check(self) -> None:
        try:
            await trio.to_thread.run_sync(self._ping, limiter=self._limiter, abandon_on_cancel=True)
        except PyMongoError as err:
            raise DependencyUnavailable(f"store: {_describe(err)}") from err

    def _ping(self) -> None:
        self._client.admin.command("ping")


@asynccontextmanager
async def open_store_probe(config: StoreConfig) -> AsyncIterator[MongoStoreProbe]:
    """A MongoStoreProbe whose client is closed on exit, within `config.timeout_s` even if cancelled."""
    limiter = trio.CapacityLimiter(config.max_threads)
    timeout_ms = int(config.timeout_s * 1000)
    connect = partial(
        MongoClient,
        config.url,
        appname="svyaz-node",
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=timeout_ms,
    )
    try:
        # A thread: a mongodb+srv:// URL makes the constructor resolve DNS.
        client = await trio.to_thread.run_sync(connect, limiter=limiter, abandon_on_cancel=True)
    # pymongo's URI parser raises a plain ValueError for some malformed hosts and ports.
    except (PyMongoError, ValueError) as err:
        raise NodeError(
            f"store.url cannot be used: {_describe(err)}",
            hint="fix store.url (or SVYAZ_STORE__URL, --store-url)",
        ) from err
    try:
        yield MongoStoreProbe(client, limiter)
    finally:
        # close() ends server sessions, which waits for a server that may be gone: bound it, and
        # shield it so a cancelled node still releases its sockets.
        with trio.move_on_after(config.timeout_s, shield=True):
            await trio.to_thread.run_sync(client.close, abandon_on_cancel=True)


def _describe(err: Exception) -> str:
    # Server-selection errors append a long topology dump after the reason; the reason is enough.
    return redact_secrets(str(err).split(", Timeout:")[0])
