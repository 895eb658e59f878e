"""The directory of secret-chat keys: devices publish prekey bundles, others claim them.

The node checks a bundle before keeping it (every key a valid GOST point, the signed prekey signed
by the identity key), so nobody is handed garbage; it cannot check that the identity key is really
the account's device — that is what users' safety numbers are for. Each account has one secret-chat
device: publishing a new identity key replaces the old bundle and its one-time prekeys. A claim
hands out each one-time prekey once (an atomic pop in the store); when they run out a claim still
succeeds without one, which the protocol allows, and the owner's device tops them up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from svyaz.e2e.errors import BadBundle
from svyaz.e2e.prekeys import b64, check_bundle
from svyaz.identity.accounts import parse_account_id
from svyaz.identity.errors import MalformedAccountId
from svyaz.messaging.errors import Blocked, InvalidMessage, InvalidPrekeys, NoPrekeys, Unreachable, UnknownRecipient
from svyaz.messaging.ports import AccountDirectory, BlockStore
from svyaz.messaging.ratelimit import RateLimiter
from svyaz.messaging.secret_policy import SecretChatPolicy

# Enough for a burst of people starting chats while the owner is offline, small enough to read in one go.
MAX_ONE_TIME_HELD = 200
MAX_ONE_TIME_PER_PUBLISH = 100


class PrekeyStore(Protocol):
    async def get(self, account: str) -> dict[str, Any] | None: ...
    async def replace(self, account: str, bundle: dict[str, Any]) -> None: ...
    async def add(self, account: str, identity_key: str, signed_prekey: dict[str, Any],
                  one_time: list[dict[str, Any]], *, keep: int) -> bool: ...
    async def claim(self, account: str) -> dict[str, Any] | None: ...


class RemotePrekeys(Protocol):
    async def claim(self, requester: str, account: str) -> dict[str, Any]:
        """The bundle of `account`, held by its home node in another region (federation)."""


class PrekeyDirectory:
    def __init__(self, *, region: str, store: PrekeyStore, directory: AccountDirectory, blocks: BlockStore,
                 claim_limit: RateLimiter | None = None, policy: SecretChatPolicy = SecretChatPolicy(),
                 peers: frozenset[str] = frozenset(), remote: RemotePrekeys | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        """`peers` and `remote`: the regions whose accounts one may start a secret chat with, and
        how their keys are claimed from their home nodes."""
        self._region = region
        self._peers = peers
        self._remote = remote
        self._store = store
        self._directory = directory
        self._blocks = blocks
        self._claim_limit = claim_limit
        self.policy = policy
        self._clock = clock

    async def publish(self, account: str, bundle: object) -> int:
        """Keep `account`'s bundle; returns how many one-time prekeys the node now holds for it."""
        try:
            checked = check_bundle(bundle, max_one_time=MAX_ONE_TIME_PER_PUBLISH)
        except BadBundle as err:
            raise InvalidPrekeys(str(err)) from None
        identity = b64(checked.identity_key.to_bytes())
        signed = {"id": checked.signed_prekey_id, "key": b64(checked.signed_prekey.to_bytes()),
                  "signature": b64(checked.signed_prekey_signature)}
        offered = [{"id": prekey_id, "key": b64(key.to_bytes())} for prekey_id, key in checked.one_time_prekeys]
        current = await self._store.get(account)
        if current is None or current["identity_key"] != identity:
            await self._store.replace(account, {"identity_key": identity, "signed_prekey": signed,
                                                "one_time": offered[-MAX_ONE_TIME_HELD:], "updated_at": self._clock()})
            return min(len(offered), MAX_ONE_TIME_HELD)
        held = {item["id"] for item in current["one_time"]}
        fresh = [item for item in offered if item["id"] not in held]
        if not await self._store.add(account, identity, signed, fresh, keep=MAX_ONE_TIME_HELD):
            # The identity changed between our read and our write: a new device won; publish again.
            raise InvalidPrekeys("another device published new keys for this account meanwhile; try again")
        return min(len(held) + len(fresh), MAX_ONE_TIME_HELD)

    async def held(self, account: str) -> int:
        """How many one-time prekeys the node holds for `account` (its device tops up below a threshold)."""
        current = await self._store.get(account)
        return 0 if current is None else len(current["one_time"])

    async def claim(self, requester: str, account: object) -> dict[str, Any]:
        """`account`'s bundle with at most one one-time prekey, which no one else will be given,
        and this region's secret-chat policy, under which the requester's messages are sent (an
        account abroad sends under its own region's)."""
        target = await self._reachable(requester, account)
        if self._claim_limit is not None:
            self._claim_limit.take(requester)
        if target.rpartition(":")[2] != self._region:
            assert self._remote is not None, "_reachable lets only peers' accounts through"
            bundle = await self._remote.claim(requester, target)
        else:
            bundle = await self._claim_here(target)
        return {**bundle, "policy": self.policy.as_wire()}

    async def claim_for_abroad(self, requester: str, account: str) -> dict[str, Any]:
        """A claim of `account` (of this region) for `requester` in another region, whose node
        checked its send limit: the bundle without a policy (the requester's own region's applies)."""
        target = await self._reachable(requester, account)
        if target.rpartition(":")[2] != self._region:
            raise InvalidMessage(f"{target} does not live in {self._region}")
        return await self._claim_here(target)

    async def _claim_here(self, target: str) -> dict[str, Any]:
        bundle = await self._store.claim(target)
        if bundle is None:
            raise NoPrekeys(f"{target} has not set up secret chats yet (no keys published)",
                            hint="they can start the chat with you instead")
        return {"account": target, "identity_key": bundle["identity_key"], "signed_prekey": bundle["signed_prekey"],
                "one_time_prekeys": bundle["one_time"][:1]}

    async def _reachable(self, requester: str, account: object) -> str:
        if not isinstance(account, str):
            raise InvalidMessage('"account" must be an account id like @bob:ru')
        try:
            target = parse_account_id(account)
        except MalformedAccountId as err:
            raise InvalidMessage(str(err), hint=err.hint) from None
        if str(target) == requester:
            raise InvalidMessage("a secret chat needs two people")
        if target.region != self._region and (self._remote is None or target.region not in self._peers):
            raise Unreachable(f"{target} lives in region {target.region}, which this node does not federate with")
        if not await self._directory.exists(str(target)):
            raise UnknownRecipient(f"there is no account {target}")
        if await self._blocks.blocks(str(target), requester):
            raise Blocked(f"{target} does not accept your messages")
        return str(target)
