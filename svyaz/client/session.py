"""Calling a node as the device's current (or a chosen) account, refreshing tokens when needed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from svyaz.client.accounts import AccountBook, Tokens
from svyaz.client.connection import NodeClient, RemoteError, open_node_client
from svyaz.regions import KNOWN_REGIONS, PORTS

# Errors after which a fresh access token (from the refresh token) may help.
REFRESHABLE = {"token_expired", "token_invalid"}


def node_url_for(account: str) -> str:
    """The home node of `@name:region` on a development machine (the region's gateway port)."""
    region = account.rsplit(":", 1)[-1]
    if region not in KNOWN_REGIONS:
        region = "ru"
    return f"ws://127.0.0.1:{PORTS[region].gateway}/"


def tokens_from(result: dict) -> Tokens:
    return Tokens(session_id=result["session_id"], access_token=result["access_token"],
                  refresh_token=result["refresh_token"])


async def refresh_tokens(book: AccountBook, account: str) -> Tokens:
    """Rotate the refresh token (the old one is spent) and store the new pair."""
    async with open_node_client(book.node_url(account)) as anonymous:
        result = await anonymous.call("auth.refresh", refresh_token=book.tokens(account).refresh_token)
    tokens = tokens_from(result)
    book.update_tokens(account, tokens)
    return tokens


@asynccontextmanager
async def open_account_client(book: AccountBook, account: str | None = None) -> AsyncIterator[NodeClient]:
    """A connection authenticated as `account` (default: the current one); refreshes an expired token once."""
    account = account or book.current()
    url = book.node_url(account)
    async with AsyncExitStack() as stack:
        try:
            client = await stack.enter_async_context(
                open_node_client(url, access_token=book.tokens(account).access_token))
        except RemoteError as err:  # only the handshake's refusal: errors of the block are not caught
            if err.code not in REFRESHABLE:
                raise
            await refresh_tokens(book, account)
            client = await stack.enter_async_context(
                open_node_client(url, access_token=book.tokens(account).access_token))
        yield client
