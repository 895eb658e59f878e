"""Who a connection belongs to: access tokens checked on connect and again while it stays open.

The gateway asks `authenticate` when a client presents a token (in the handshake's
`Authorization: Bearer` header or an `authenticate` frame) and `session_active` every
`identity.session_check_interval_s` while the connection is open, which bounds how long a revoked
session's WebSocket survives.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial

import trio

from svyaz.identity.service import IdentityService


@dataclass(frozen=True)
class Authenticated:
    account: str
    session_id: str
    expires_at: float


class IdentityAuthenticator:
    def __init__(self, service: IdentityService, *, limiter: trio.CapacityLimiter) -> None:
        self._service = service
        self._limiter = limiter

    async def authenticate(self, access_token: str) -> Authenticated:
        """The token's account and session; IdentityError (token_invalid, token_expired, session_revoked)."""
        claims = await trio.to_thread.run_sync(
            partial(self._service.authenticate, access_token, check_session=True), limiter=self._limiter)
        return Authenticated(account=claims.sub, session_id=claims.sid, expires_at=float(claims.exp))

    async def session_active(self, session_id: str) -> bool:
        return await trio.to_thread.run_sync(self._service.session_active, session_id, limiter=self._limiter)


def seconds_left(expires_at: float) -> float:
    return expires_at - time.time()
