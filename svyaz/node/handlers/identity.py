"""Accounts, sign-in, tokens, 2FA and sessions: the identity actions of the API.

Every authentication event is audited: registration, sign-in success and failure, refresh (and the
reuse of a spent refresh token), 2FA changes, session revocations. The audit log is written before
the result goes back, and if it cannot be written the caller gets `audit_unavailable` and a session
the call had just started is ended again: no unrecorded sign-in.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import trio

from svyaz.compliance.audit.event import AuditEvent, AuditSink, AuditUnavailable
from svyaz.identity.errors import IdentityError, RefreshReuse
from svyaz.identity.service import Device, IdentityService, TokenPair
from svyaz.identity.totp import render_qr
from svyaz.node.api import Call, Handler
from svyaz.node.handlers.args import flag, optional_text, text

T = TypeVar("T")
PASSWORD_LIMIT = 256


class IdentityHandlers:
    def __init__(self, service: IdentityService, audit: AuditSink, *, limiter: trio.CapacityLimiter,
                 granted_roles: Callable[[str], tuple[str, ...]]) -> None:
        self._service = service
        self._audit = audit
        self._limiter = limiter
        self._granted_roles = granted_roles

    def routes(self) -> dict[str, Handler]:
        return {
            "account.register": self.register,
            "auth.login": self.login,
            "auth.refresh": self.refresh,
            "account.profile.read": self.profile,
            "account.profile.update": self.update_profile,
            "account.password.change": self.change_password,
            "2fa.enable": self.enable_2fa,
            "2fa.confirm": self.confirm_2fa,
            "2fa.disable": self.disable_2fa,
            "sessions.list": self.list_sessions,
            "sessions.revoke": self.revoke_session,
        }

    async def _run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await trio.to_thread.run_sync(partial(function, *args, **kwargs), limiter=self._limiter)

    async def _record(self, call: Call, *, actor: str, target: str, outcome: str, **detail: str) -> None:
        await self._audit.record(AuditEvent(
            actor=actor, role="user" if actor.startswith("@") else "none", action=call.action,
            target=target, region=call.region, request_id=call.request_id, outcome=outcome,
            detail={"address": call.caller.address, **detail},
        ))

    async def _attempt(self, call: Call, target: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run an identity use case; audit its failure (with the error's code) and re-raise."""
        try:
            return await self._run(function, *args, **kwargs)
        except IdentityError as err:
            await self._record(call, actor=call.caller.principal.actor, target=target, outcome="failure",
                               reason=err.code)
            raise

    def _device(self, call: Call) -> Device:
        return Device(address=call.caller.address, name=optional_text(call.args, "device", limit=100) or "",
                      user_agent=optional_text(call.args, "user_agent", limit=200) or "")

    # --- accounts and sign-in ---------------------------------------------------------------------

    async def register(self, call: Call) -> dict[str, Any]:
        account = text(call.args, "account", limit=64)
        password = text(call.args, "password", limit=PASSWORD_LIMIT)
        record = await self._attempt(call, account, self._service.register, account, password)
        await self._record(call, actor=record.account_id, target=record.account_id, outcome="success")
        return {"account": record.account_id}

    async def login(self, call: Call) -> dict[str, Any]:
        account = text(call.args, "account", limit=64)
        password = text(call.args, "password", limit=PASSWORD_LIMIT)
        result = await self._attempt(
            call, account, self._service.login, account, password, device=self._device(call),
            totp_code=optional_text(call.args, "totp_code", limit=16),
            recovery_code=optional_text(call.args, "recovery_code", limit=32),
        )
        await self._record_or_end(call, result.tokens.session_id, actor=result.account_id,
                                  target=result.account_id, second_factor=result.second_factor or "none")
        data = _token_data(result.tokens)
        data.update(account=result.account_id, second_factor=result.second_factor,
                    recovery_codes_left=result.recovery_codes_left)
        return data

    async def refresh(self, call: Call) -> dict[str, Any]:
        token = text(call.args, "refresh_token", limit=200)
        try:
            pair = await self._run(self._service.refresh, token)
        except RefreshReuse as err:
            # A spent token came back: someone holds a stolen copy. The session is already ended.
            await self._record(call, actor="anonymous", target=err.session_id or "-", outcome="failure",
                               reason=err.code)
            raise
        except IdentityError as err:
            await self._record(call, actor="anonymous", target="-", outcome="failure", reason=err.code)
            raise
        await self._record_or_end(call, pair.session_id, actor="anonymous", target=pair.session_id)
        return _token_data(pair)

    async def _record_or_end(self, call: Call, session_id: str, *, actor: str, target: str, **detail: str) -> None:
        try:
            await self._record(call, actor=actor, target=target, outcome="success", session=session_id, **detail)
        except AuditUnavailable:
            await self._run(self._service.logout, session_id)
            raise

    async def profile(self, call: Call) -> dict[str, Any]:
        account = call.caller.principal.actor
        second_factor = await self._run(self._service.has_confirmed_second_factor, account)
        profile = await self._run(self._service.profile, account)
        return {"account": account, "region": call.region, "roles": list(self._granted_roles(account)),
                "two_factor": second_factor, "session_id": call.caller.session_id, **profile.as_dict()}

    async def update_profile(self, call: Call) -> dict[str, Any]:
        """Some of display_name, about, presence; audited with the names of the fields, not their values."""
        account = call.caller.principal.actor
        changes = dict(call.args)
        profile = await self._attempt(call, account, self._service.update_profile, account, changes)
        await self._record(call, actor=account, target=account, outcome="success", fields=",".join(sorted(changes)))
        return {"account": account, **profile.as_dict()}

    async def change_password(self, call: Call) -> dict[str, Any]:
        """Needs the current password; every other session of the account ends (ASVS 7.4.3)."""
        account = call.caller.principal.actor
        await self._attempt(
            call, account, self._service.change_password, account, text(call.args, "password", limit=PASSWORD_LIMIT),
            text(call.args, "new_password", limit=PASSWORD_LIMIT), device=self._device(call),
            keep_session_id=call.caller.session_id,
        )
        await self._record(call, actor=account, target=account, outcome="success")
        return {}

    # --- second factor ----------------------------------------------------------------------------

    async def enable_2fa(self, call: Call) -> dict[str, Any]:
        account = call.caller.principal.actor
        password = text(call.args, "password", limit=PASSWORD_LIMIT)
        enrolment = await self._attempt(call, account, self._service.begin_totp_enrolment, account, password,
                                        device=self._device(call))
        await self._record(call, actor=account, target=account, outcome="success", step="enrolment_started")
        return {"secret": enrolment.secret, "uri": enrolment.uri, "qr": render_qr(enrolment.uri)}

    async def confirm_2fa(self, call: Call) -> dict[str, Any]:
        account = call.caller.principal.actor
        codes = await self._attempt(
            call, account, self._service.confirm_totp, account, text(call.args, "password", limit=PASSWORD_LIMIT),
            text(call.args, "code", limit=16), device=self._device(call), keep_session_id=call.caller.session_id,
        )
        await self._record(call, actor=account, target=account, outcome="success", step="enabled")
        return {"recovery_codes": list(codes.codes)}

    async def disable_2fa(self, call: Call) -> dict[str, Any]:
        account = call.caller.principal.actor
        await self._attempt(
            call, account, self._service.disable_totp, account, text(call.args, "password", limit=PASSWORD_LIMIT),
            text(call.args, "code", limit=32), device=self._device(call), keep_session_id=call.caller.session_id,
        )
        await self._record(call, actor=account, target=account, outcome="success", step="disabled")
        return {}

    # --- sessions ---------------------------------------------------------------------------------

    async def list_sessions(self, call: Call) -> dict[str, Any]:
        account = call.caller.principal.actor
        sessions = await self._run(self._service.list_sessions, account)
        return {"sessions": [
            {"session_id": s.session_id, "device": s.device, "user_agent": s.user_agent, "address": s.address,
             "created_at": s.created_at, "last_seen_at": s.last_seen_at,
             "current": s.session_id == call.caller.session_id}
            for s in sessions
        ]}

    async def revoke_session(self, call: Call) -> dict[str, Any]:
        account = call.caller.principal.actor
        if flag(call.args, "others"):
            count = await self._run(self._service.logout_others, account, call.caller.session_id or "")
            await self._record(call, actor=account, target="others", outcome="success", count=str(count))
            return {"revoked": count}
        session_id = text(call.args, "session_id", limit=100)
        revoked = await self._run(self._service.revoke_session, account, session_id)
        await self._record(call, actor=account, target=session_id, outcome="success" if revoked else "failure")
        return {"revoked": int(revoked)}


def _token_data(pair: TokenPair) -> dict[str, Any]:
    return {"session_id": pair.session_id, "access_token": pair.access_token,
            "access_expires_at": pair.access_expires_at, "refresh_token": pair.refresh_token,
            "refresh_expires_at": pair.refresh_expires_at}
