"""The API's one path: every call meets the guard before its handler, and errors become frames."""

from __future__ import annotations

import pytest

from svyaz.node.api import Api, Caller
from svyaz.rbac.actions import CATALOGUE
from svyaz.rbac.errors import Forbidden


class RecordingGuard:
    def __init__(self, allow: bool) -> None:
        self.allow = allow
        self.asked: list[str] = []
        self.unrecorded: list[str] = []

    async def check(self, principal, action, region, *, target="-", request_id, record_allowed=True):
        self.asked.append(action)
        if not record_allowed:
            self.unrecorded.append(action)
        if not self.allow:
            raise Forbidden(action)


def api_with_every_action(guard) -> tuple[Api, list[str]]:
    ran: list[str] = []

    def handler_for(name):
        async def handler(call):
            ran.append(call.action)
            return {"ok": name}
        return handler

    return Api(region="ru", guard=guard, handlers={a.name: handler_for(a.name) for a in CATALOGUE}), ran


async def test_no_handler_runs_when_the_guard_refuses():
    guard = RecordingGuard(allow=False)
    api, ran = api_with_every_action(guard)

    replies = [await api.handle(Caller(address="192.0.2.1"), {"type": "call", "id": n, "action": action})
               for n, action in enumerate(sorted(api.actions))]

    assert ran == []
    assert guard.asked == sorted(api.actions) == sorted(CATALOGUE.names())
    assert {reply["code"] for reply in replies} == {"forbidden"}


async def test_an_allowed_call_reaches_its_handler_once():
    api, ran = api_with_every_action(RecordingGuard(allow=True))

    reply = await api.handle(Caller(address="192.0.2.1"), {"type": "call", "id": "7", "action": "sessions.list"})

    assert reply == {"type": "result", "id": "7", "data": {"ok": "sessions.list"}}
    assert ran == ["sessions.list"]


async def test_a_self_checked_action_is_still_guarded_but_leaves_recording_to_its_use_case():
    guard = RecordingGuard(allow=True)
    api = Api(region="ru", guard=guard, handlers={"role.grant": _ok, "sessions.list": _ok},
              self_checked=frozenset({"role.grant"}))

    for action in ("role.grant", "sessions.list"):
        await api.handle(Caller(address="192.0.2.1"), {"type": "call", "id": 1, "action": action})

    assert guard.asked == ["role.grant", "sessions.list"]
    assert guard.unrecorded == ["role.grant"]


async def _ok(call):
    return {}


async def test_a_name_outside_the_catalogue_is_unknown_and_never_reaches_the_guard():
    guard = RecordingGuard(allow=True)
    api, _ = api_with_every_action(guard)

    reply = await api.handle(Caller(address="192.0.2.1"), {"type": "call", "id": 1, "action": "admin.drop_everything"})

    assert reply["code"] == "unknown_action" and guard.asked == []


@pytest.mark.parametrize("frame, code", [
    ({"type": "call", "id": 1}, "unknown_type"),
    ({"type": "call", "id": 1, "action": "sessions.list", "args": []}, "invalid_field"),
])
async def test_malformed_calls_get_a_typed_error(frame, code):
    api, ran = api_with_every_action(RecordingGuard(allow=True))

    reply = await api.handle(Caller(address="192.0.2.1"), frame)

    assert reply["code"] == code and ran == []


def test_a_handler_for_an_action_outside_the_catalogue_is_a_startup_error():
    async def handler(call):
        return {}

    with pytest.raises(ValueError, match="missing from the RBAC catalogue"):
        Api(region="ru", guard=RecordingGuard(allow=True), handlers={"secret.backdoor": handler})
