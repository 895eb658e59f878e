"""The Mongo-wire adapters of the message store (one bulkhead database) and the chat list.

Every read on the hot path is a point read by `_id` (FerretDB on SQLite serves only those from an
index; docs/adr/0003). Races between processes are settled by unique keys on insert, never by
read-then-write: a message's `_id` is `<chat>#<seq>`, and a unique index on (chat, sender,
client_id) makes a resend unable to store a second copy even if its writer died half-way.

Collections of a bulkhead database (`<prefix>_private`): `messages`, `client_ids` (client id ->
seq, the fast resend lookup), `heads` (a hint of each chat's last seq; reads probe past it, so it
may lag but the answer does not), `cursors` (delivered/read position per chat and account).
Chat list database (`<prefix>_chatlist`): `entries`, one per (account, chat).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, ParamSpec, TypeVar

import trio
from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError

from svyaz.messaging.chatlist import ChatListEntry
from svyaz.messaging.errors import StoreUnavailable
from svyaz.messaging.ids import message_id, private_participants
from svyaz.messaging.model import Cursors, Message
from svyaz.messaging.ports import Inserted

P = ParamSpec("P")
T = TypeVar("T")
_MESSAGE_FIELDS = ("chat", "seq", "sender", "client_id", "text", "sent_at", "reply_to", "forwarded_from",
                   "edited_at", "deleted", "hidden_for")


def _blocking(function: Callable[P, T]) -> Callable[P, T]:
    """Driver errors become StoreUnavailable (the API answers `store_unavailable`)."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return function(*args, **kwargs)
        except DuplicateKeyError:
            raise
        except PyMongoError as err:
            raise StoreUnavailable(f"the message store did not answer: {str(err).split(', Timeout:')[0]}") from err

    return wrapper


class _Threaded:
    def __init__(self, limiter: trio.CapacityLimiter) -> None:
        self._limiter = limiter

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        return await trio.to_thread.run_sync(function, *args, limiter=self._limiter)


class MongoMessageStore(_Threaded):
    def __init__(self, database: Database, limiter: trio.CapacityLimiter) -> None:
        super().__init__(limiter)
        self._messages = database["messages"]
        self._client_ids = database["client_ids"]
        self._heads = database["heads"]
        self._cursors = database["cursors"]

    @_blocking
    def ensure_indexes(self) -> None:
        self._messages.create_index([("chat", ASCENDING), ("seq", ASCENDING)], unique=True)
        self._messages.create_index([("chat", ASCENDING), ("sender", ASCENDING), ("client_id", ASCENDING)],
                                    unique=True)

    async def head(self, chat: str) -> int:
        return await self._run(self._head, chat)

    @_blocking
    def _head(self, chat: str) -> int:
        doc = self._heads.find_one({"_id": chat})
        seq = doc["last_seq"] if doc else 0
        # The hint may lag behind a writer that stopped before updating it: probe past it.
        while self._messages.find_one({"_id": message_id(chat, seq + 1)}, {"_id": 1}) is not None:
            seq += 1
        return seq

    async def insert(self, message: Message) -> Inserted:
        return await self._run(self._insert, message)

    @_blocking
    def _insert(self, message: Message) -> Inserted:
        try:
            self._messages.insert_one(_message_doc(message))
        except DuplicateKeyError:
            return self._why_taken(message)
        try:
            self._client_ids.insert_one({"_id": _client_key(message.chat, message.sender, message.client_id),
                                         "seq": message.seq})
        except DuplicateKeyError:
            pass  # cannot be another message's: the unique index on messages already said so
        self._heads.update_one({"_id": message.chat}, {"$max": {"last_seq": message.seq}}, upsert=True)
        return Inserted(stored=True)

    def _why_taken(self, message: Message) -> Inserted:
        holder = self._messages.find_one({"_id": message_id(message.chat, message.seq)})
        if holder is not None and (holder["sender"], holder["client_id"]) != (message.sender, message.client_id):
            return Inserted(seq_taken=True)
        if holder is None:
            # The client-id index refused it: the first copy sits at another seq. A slow lookup,
            # reached only by a resend whose first writer never recorded its client id.
            holder = self._messages.find_one({"chat": message.chat, "sender": message.sender,
                                              "client_id": message.client_id})
            if holder is None:
                raise StoreUnavailable(f"the store refused message {message.seq} of {message.chat} as a "
                                       "duplicate but holds no copy of it")
        return Inserted(existing=_message(holder))

    async def by_client_id(self, chat: str, sender: str, client_id: str) -> Message | None:
        return await self._run(self._by_client_id, chat, sender, client_id)

    @_blocking
    def _by_client_id(self, chat: str, sender: str, client_id: str) -> Message | None:
        known = self._client_ids.find_one({"_id": _client_key(chat, sender, client_id)})
        if known is None:
            return None
        doc = self._messages.find_one({"_id": message_id(chat, known["seq"])})
        return _message(doc) if doc is not None else None

    async def get(self, chat: str, seq: int) -> Message | None:
        return await self._run(self._get, chat, seq)

    @_blocking
    def _get(self, chat: str, seq: int) -> Message | None:
        doc = self._messages.find_one({"_id": message_id(chat, seq)})
        return _message(doc) if doc is not None else None

    async def page(self, chat: str, seqs: range) -> list[Message]:
        return await self._run(self._page, chat, seqs)

    @_blocking
    def _page(self, chat: str, seqs: range) -> list[Message]:
        # One point read per message: `$in` on _id is not served from FerretDB's index.
        docs = (self._messages.find_one({"_id": message_id(chat, seq)}) for seq in seqs)
        return [_message(doc) for doc in docs if doc is not None]

    async def replace(self, message: Message) -> None:
        await self._run(self._replace, message)

    @_blocking
    def _replace(self, message: Message) -> None:
        self._messages.replace_one({"_id": message_id(message.chat, message.seq)}, _message_doc(message))

    async def advance_cursor(self, chat: str, account: str, kind: str, seq: int) -> None:
        await self._run(self._advance_cursor, chat, account, kind, seq)

    @_blocking
    def _advance_cursor(self, chat: str, account: str, kind: str, seq: int) -> None:
        self._cursors.update_one({"_id": f"{chat}|{account}"},
                                 {"$max": {kind: seq}, "$set": {"chat": chat, "account": account}}, upsert=True)

    async def cursors(self, chat: str) -> Cursors:
        return await self._run(self._read_cursors, chat)

    @_blocking
    def _read_cursors(self, chat: str) -> Cursors:
        delivered, read = {}, {}
        for account in private_participants(chat):
            doc = self._cursors.find_one({"_id": f"{chat}|{account}"}) or {}
            delivered[account], read[account] = doc.get("delivered", 0), doc.get("read", 0)
        return Cursors(delivered=delivered, read=read)


class MongoChatListStore(_Threaded):
    def __init__(self, database: Database, limiter: trio.CapacityLimiter) -> None:
        super().__init__(limiter)
        self._entries = database["entries"]

    @_blocking
    def ensure_indexes(self) -> None:
        self._entries.create_index([("account", ASCENDING), ("last_at", DESCENDING)])

    async def get(self, account: str, chat: str) -> ChatListEntry | None:
        return await self._run(self._get, account, chat)

    @_blocking
    def _get(self, account: str, chat: str) -> ChatListEntry | None:
        doc = self._entries.find_one({"_id": f"{account}|{chat}"})
        return _entry(doc) if doc is not None else None

    async def put(self, entry: ChatListEntry) -> bool:
        return await self._run(self._put, entry)

    @_blocking
    def _put(self, entry: ChatListEntry) -> bool:
        doc = {**asdict(entry), "version": entry.version + 1}
        if entry.version == 0:
            try:
                self._entries.insert_one({"_id": f"{entry.account}|{entry.chat}", **doc})
            except DuplicateKeyError:
                return False
            return True
        result = self._entries.update_one({"_id": f"{entry.account}|{entry.chat}", "version": entry.version},
                                          {"$set": doc})
        return result.matched_count == 1

    async def list(self, account: str, *, limit: int) -> list[ChatListEntry]:
        return await self._run(self._list, account, limit)

    @_blocking
    def _list(self, account: str, limit: int) -> list[ChatListEntry]:
        docs = self._entries.find({"account": account}).sort("last_at", DESCENDING).limit(limit)
        return [_entry(doc) for doc in docs]


def _client_key(chat: str, sender: str, client_id: str) -> str:
    return f"{chat}|{sender}|{client_id}"


def _message_doc(message: Message) -> dict[str, Any]:
    doc = {name: getattr(message, name) for name in _MESSAGE_FIELDS}
    doc["hidden_for"] = list(message.hidden_for)
    return {"_id": message_id(message.chat, message.seq), **doc}


def _message(doc: dict[str, Any]) -> Message:
    return Message(**{name: doc[name] for name in _MESSAGE_FIELDS if name != "hidden_for"},
                   hidden_for=tuple(doc["hidden_for"]))


def _entry(doc: dict[str, Any]) -> ChatListEntry:
    return ChatListEntry(**{name: doc[name] for name in ChatListEntry.__dataclass_fields__})
