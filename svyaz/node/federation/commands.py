"""Asking another region's node and waiting for its answer, over federation.

Two kinds of question: a change a member makes to a group or channel homed abroad (`group.command`,
answered by `group.reply`; `FederatedHome` is the messaging `HomeNode`), and a directory lookup of
an account abroad (`svyaz.node.federation.directory`). The question goes through the outbox; the
applier hands the answer to `Requests.answered`. A change's
effect reaches this node's copy as the home's event, like any other change.

A node of several processes receives the answer in whichever process consumes its partition; the
asker in another process then gets `not_confirmed`, though the change has been made (the client
learns so from the chat's events, or by calling again with the same client id).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import trio

from svyaz.federation.envelope import new_event_id, now_ms
from svyaz.messaging.errors import NotConfirmed, RefusedAtHome
from svyaz.messaging.ids import home_of
from svyaz.node.federation import wire_shared
from svyaz.node.federation.forwarder import Outbox

logger = logging.getLogger("svyaz.node.federation.commands")
ANSWER_WAIT_S = 10.0  # two crossings and the other node's own work, with room for a slow moment


class Requests:
    """Questions sent through the outbox, each waiting for its answer by request id."""

    def __init__(self, outbox: Outbox, *, wait_s: float = ANSWER_WAIT_S) -> None:
        self.outbox = outbox
        self.wait_s = wait_s
        self._waiting: dict[str, trio.MemorySendChannel[dict[str, Any]]] = {}

    async def ask(self, *, destination: str, stream: str, kind: str, payload: Mapping[str, Any],
                  request_id: str, what: str) -> dict[str, Any]:
        """The answer to the question `payload` (which names `request_id`); NotConfirmed if none in time."""
        send, receive = trio.open_memory_channel[dict[str, Any]](1)
        self._waiting[request_id] = send
        try:
            await self.outbox.send(destination=destination, stream=stream, kind=kind, payload=payload,
                                   event_id=request_id, created_at_ms=now_ms())
            with trio.move_on_after(self.wait_s):
                return await receive.receive()
        finally:
            del self._waiting[request_id]
        raise NotConfirmed(f"{what}: {destination} has not answered within {self.wait_s:g} s",
                           hint="it may still take effect; the same call again (same client_id) is safe and tells")

    def answered(self, request_id: str, answer: Mapping[str, Any]) -> None:
        """An answer from another node (ignored if no one waits for it any more)."""
        waiting = self._waiting.get(request_id)
        if waiting is None:
            logger.info("an answer no one waits for", extra={"request_id": request_id[:64]})
            return
        try:
            waiting.send_nowait(dict(answer))
        except trio.WouldBlock:
            pass  # a duplicate answer: the first one counts


class FederatedHome:
    """The messaging `HomeNode`: runs a change on the home node of a group or channel abroad."""

    def __init__(self, requests: Requests) -> None:
        self._requests = requests

    async def run(self, chat: str, actor: str, action: str, args: dict[str, Any]) -> dict[str, Any]:
        command_id = new_event_id()
        reply = await self._requests.ask(
            destination=home_of(chat), stream=chat, kind=wire_shared.GROUP_COMMAND, request_id=command_id,
            payload=wire_shared.command(command_id=command_id, actor=actor, action=action, args=args),
            what=f"{action} in {chat}")
        if reply["ok"]:
            return reply["result"]
        raise RefusedAtHome(reply["code"], reply["message"])
