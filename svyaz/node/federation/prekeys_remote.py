"""Claiming the secret-chat keys of an account abroad, from its home node, which alone holds them
and hands each one-time prekey out once (`keys.claim` on the stream `keys/<account>`, answered by
`keys.bundle`). The home checks what a local claim checks: the account exists, has keys, and does
not block the claimer; the claimer's node checks its send limit and the blocks it has been told of.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from svyaz.federation.envelope import new_event_id, now_ms
from svyaz.federation.errors import Malformed, NotPermitted
from svyaz.messaging.errors import MessagingError, NotPublished, RefusedAtHome, StoreUnavailable
from svyaz.messaging.prekeys import PrekeyDirectory
from svyaz.node.federation.commands import Requests
from svyaz.node.federation.forwarder import Outbox
from svyaz.node.federation.payload import PayloadFields

CLAIM, BUNDLE = "keys.claim", "keys.bundle"
STREAM_PREFIX = "keys/"
_BUNDLE_FIELDS = {"account", "identity_key", "signed_prekey", "one_time_prekeys"}


class RemotePrekeys:
    """The messaging `RemotePrekeys` port: a claim made through `requests`."""

    def __init__(self, requests: Requests) -> None:
        self._requests = requests

    async def claim(self, requester: str, account: str) -> dict[str, Any]:
        request_id = new_event_id()
        answer = await self._requests.ask(
            destination=account.rpartition(":")[2], stream=STREAM_PREFIX + account, kind=CLAIM,
            payload={"request_id": request_id, "requester": requester, "account": account},
            request_id=request_id, what=f"the keys of {account}")
        if not answer["ok"]:
            raise RefusedAtHome(answer["code"], answer["message"])
        return answer["bundle"]


@dataclass(frozen=True)
class PrekeyClaimApplier:
    """Answers peers' claims of this region's accounts' keys, and hands their answers to the claimer."""

    region: str
    prekeys: PrekeyDirectory
    requests: Requests
    outbox: Outbox

    @staticmethod
    def handles(kind: str) -> bool:
        return kind in (CLAIM, BUNDLE)

    async def apply(self, *, origin: str, stream: str, kind: str, payload: Mapping[str, Any]) -> None:
        fields = PayloadFields(payload, kind)
        request_id = fields.string("request_id", 64)
        if kind == CLAIM:
            requester, account = fields.account("requester"), fields.account("account")
            fields.done({"request_id", "requester", "account"})
            if requester.rpartition(":")[2] != origin:
                raise NotPermitted(f"{origin} may not claim keys for {requester}, who lives in another region")
            _check_stream(stream, account, home=self.region)
            await self.outbox.send(destination=origin, stream=stream, kind=BUNDLE, event_id=new_event_id(),
                                   created_at_ms=now_ms(), payload={"request_id": request_id,
                                                                    **await self._answer(requester, account)})
            return
        _check_stream(stream, stream[len(STREAM_PREFIX):], home=origin)
        if fields.flag("ok"):
            bundle = fields.get("bundle")
            if not isinstance(bundle, Mapping) or set(bundle) != _BUNDLE_FIELDS:
                raise Malformed("keys.bundle must hold the account, identity key, signed prekey and one-time prekeys")
            fields.done({"request_id", "ok", "bundle"})
            self.requests.answered(request_id, {"ok": True, "bundle": dict(bundle)})
        else:
            answer = {"ok": False, "code": fields.string("code", 64), "message": fields.string("message", 300)}
            fields.done({"request_id", "ok", "code", "message"})
            self.requests.answered(request_id, answer)

    async def _answer(self, requester: str, account: str) -> dict[str, Any]:
        try:
            bundle = await self.prekeys.claim_for_abroad(requester, account)
        except (StoreUnavailable, NotPublished):
            raise
        except MessagingError as refusal:
            return {"ok": False, "code": refusal.code, "message": str(refusal)[:300]}
        return {"ok": True, "bundle": bundle}


def _check_stream(stream: str, account: str, *, home: str) -> None:
    if stream != STREAM_PREFIX + account:
        raise Malformed("a key claim travels on the stream of the account whose keys it claims")
    if account.rpartition(":")[2] != home:
        raise NotPermitted(f"the keys of {account[:80]} are claimed from and answered by its home node only")
