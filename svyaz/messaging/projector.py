"""The chat-list projector: the Kafka path of seed ADR-1. One consumer group per node; each event
is applied to the chat list (idempotently, like the writer's direct path) before its offset is
committed, so a restart replays rather than loses."""

from __future__ import annotations

import logging

import trio

from svyaz.messaging.bus import EventStream
from svyaz.messaging.chatlist_writer import project
from svyaz.messaging.errors import MessagingError, StoreUnavailable
from svyaz.messaging.events import PROJECTED
from svyaz.messaging.ports import ChatListStore

logger = logging.getLogger("svyaz.messaging.projector")
_RETRY_MAX_S = 5.0


async def serve_projector(stream: EventStream, chat_list: ChatListStore, *, region: str,
                          task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    task_status.started()
    async for record in stream:
        if record.event.kind in PROJECTED:
            try:
                await _apply_until_stored(chat_list, record.event, region)
            except MessagingError as err:
                # A well-formed record the projection cannot use (e.g. a malformed chat id):
                # retrying cannot help, and stopping here would stop every chat behind it.
                logger.error("event skipped by the projector", extra={"chat": record.event.chat[:80],
                                                                       "event_id": record.event.id,
                                                                       "error": str(err)})
        stream.done(record)


async def _apply_until_stored(chat_list: ChatListStore, event, region: str) -> None:
    delay = 0.1
    while True:
        try:
            await project(chat_list, event, region=region)
            return
        except StoreUnavailable as err:
            logger.warning("chat list store unavailable; retrying", extra={"chat": event.chat, "error": str(err)})
            await trio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX_S)
