"""Who a connection belongs to: access tokens checked on connect and again while it stays open.

The gateway asks `authenticate` when a client presents a token (in the handshake's
`Authorization: Bearer` header or an `authenticate` frame), and its session sweeper asks
`revoked_sessions` for all open connections every `identity.session_check_interval_s`, which
bounds how long a revoked session's WebSocket survives.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from functools import partial

import trio

from svyaz.identity.service import IdentityService
from svyaz.identity.tokens import ONE_TIME_PASSWORD


@dataclass(frozen=True)
class Authenticated:
    account: str
    session_id: str
    expires_at: float
    second_factor: bool


class IdentityAuthenticator:
    def __init__(self, service: IdentityService, *, limiter: trio.CapacityLimiter) -> None:
        self._service = service
        self._limiter = limiter

    async def authenticate(self, access_token: str) -> Authenticated:
        """The token's account and session; IdentityError (token_invalid, token_expired, session_revoked)."""
        claims = await trio.to_thread.run_sync(
            partial(self._service.authenticate, access_token, check_session=True), limiter=self._limiter)
        return Authenticated(account=claims.sub, session_id=claims.sid, expires_at=float(claims.exp),
                             second_factor=ONE_TIME_PASSWORD in claims.amr)

    async def revoked_sessions(self, session_ids: Collection[str]) -> set[str]:
        return await trio.to_thread.run_sync(self._service.revoked_sessions, session_ids, limiter=self._limiter)


def seconds_left(expires_at: float) -> float:
    return expires_at - time.time()
