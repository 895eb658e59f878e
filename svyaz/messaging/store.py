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
from svyaz.messaging.model import ChatInfo, Cursors, Message
from svyaz.messaging.ports import Inserted

P = ParamSpec("P")
T = TypeVar("T")
_MESSAGE_FIELDS = ("chat", "seq", "sender", "client_id", "text", "sent_at", "reply_to", "forwarded_from",
                   "edited_at", "deleted", "hidden_for", "links", "media", "sealed", "franking")
_LISTS = ("hidden_for", "links")


def blocking(function: Callable[P, T]) -> Callable[P, T]:
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


class ThreadedAdapter:
    def __init__(self, limiter: trio.CapacityLimiter) -> None:
        self._limiter = limiter

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        return await trio.to_thread.run_sync(function, *args, limiter=self._limiter)


class MongoMessageStore(ThreadedAdapter):
    def __init__(self, database: Database, limiter: trio.CapacityLimiter) -> None:
        super().__init__(limiter)
        self._messages = database["messages"]
        self._client_ids = database["client_ids"]
        self._heads = database["heads"]
        self._cursors = database["cursors"]

    @blocking
    def ensure_indexes(self) -> None:
        self._messages.create_index([("chat", ASCENDING), ("seq", ASCENDING)], unique=True)
        self._messages.create_index([("chat", ASCENDING), ("sender", ASCENDING), ("client_id", ASCENDING)],
                                    unique=True)

    async def head(self, chat: str) -> int:
        return await self._run(self._head, chat)

    @blocking
    def _head(self, chat: str) -> int:
        doc = self._heads.find_one({"_id": chat})
        seq = doc["last_seq"] if doc else 0
        # The hint may lag behind a writer that stopped before updating it: probe past it.
        while self._messages.find_one({"_id": message_id(chat, seq + 1)}, {"_id": 1}) is not None:
            seq += 1
        return seq

    async def insert(self, message: Message) -> Inserted:
        return await self._run(self._insert, message)

    @blocking
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
            # The client-id index refused it: a resend, whose first copy sits at another seq.
            holder = self._first_copy(message)
            if holder is None:
                raise StoreUnavailable(f"the store refused message {message.seq} of {message.chat} as a "
                                       "duplicate but holds no copy of it")
        return Inserted(existing=_message(holder))

    def _first_copy(self, message: Message) -> dict | None:
        known = self._client_ids.find_one({"_id": _client_key(message.chat, message.sender, message.client_id)})
        if known is not None:
            return self._messages.find_one({"_id": message_id(message.chat, known["seq"])})
        # A slow lookup, reached only by a resend whose first writer never recorded its client id.
        return self._messages.find_one({"chat": message.chat, "sender": message.sender,
                                        "client_id": message.client_id})

    async def get(self, chat: str, seq: int) -> Message | None:
        return await self._run(self._get, chat, seq)

    @blocking
    def _get(self, chat: str, seq: int) -> Message | None:
        doc = self._messages.find_one({"_id": message_id(chat, seq)})
        return _message(doc) if doc is not None else None

    async def page(self, chat: str, seqs: range) -> list[Message]:
        return await self._run(self._page, chat, seqs)

    @blocking
    def _page(self, chat: str, seqs: range) -> list[Message]:
        # One point read per message: `$in` on _id is not served from FerretDB's index.
        docs = (self._messages.find_one({"_id": message_id(chat, seq)}) for seq in seqs)
        return [_message(doc) for doc in docs if doc is not None]

    async def replace(self, message: Message) -> None:
        await self._run(self._replace, message)

    @blocking
    def _replace(self, message: Message) -> None:
        self._messages.replace_one({"_id": message_id(message.chat, message.seq)}, _message_doc(message))

    async def advance_cursor(self, chat: str, account: str, kind: str, seq: int) -> None:
        await self._run(self._advance_cursor, chat, account, kind, seq)

    @blocking
    def _advance_cursor(self, chat: str, account: str, kind: str, seq: int) -> None:
        self._cursors.update_one({"_id": f"{chat}|{account}"},
                                 {"$max": {kind: seq}, "$set": {"chat": chat, "account": account}}, upsert=True)

    async def cursor(self, chat: str, account: str, kind: str) -> int:
        return await self._run(self._cursor, chat, account, kind)

    @blocking
    def _cursor(self, chat: str, account: str, kind: str) -> int:
        doc = self._cursors.find_one({"_id": f"{chat}|{account}"}) or {}
        return doc.get(kind, 0)

    async def cursors(self, chat: str) -> Cursors:
        return await self._run(self._read_cursors, chat)

    @blocking
    def _read_cursors(self, chat: str) -> Cursors:
        delivered, read = {}, {}
        for account in private_participants(chat):
            doc = self._cursors.find_one({"_id": f"{chat}|{account}"}) or {}
            delivered[account], read[account] = doc.get("delivered", 0), doc.get("read", 0)
        return Cursors(delivered=delivered, read=read)


class MongoChatListStore(ThreadedAdapter):
    def __init__(self, database: Database, limiter: trio.CapacityLimiter) -> None:
        super().__init__(limiter)
        self._entries = database["entries"]

    @blocking
    def ensure_indexes(self) -> None:
        self._entries.create_index([("account", ASCENDING), ("last_at", DESCENDING)])

    async def get(self, account: str, chat: str) -> ChatListEntry | None:
        return await self._run(self._get, account, chat)

    @blocking
    def _get(self, account: str, chat: str) -> ChatListEntry | None:
        doc = self._entries.find_one({"_id": f"{account}|{chat}"})
        return _entry(doc) if doc is not None else None

    async def put(self, entry: ChatListEntry) -> bool:
        return await self._run(self._put, entry)

    @blocking
    def _put(self, entry: ChatListEntry) -> bool:
        doc = {**asdict(entry), "version": entry.version + 1}
        if entry.version == 0:
            try:
                self._entries.insert_one({"_id": f"{entry.account}|{entry.chat}", **doc})
            except DuplicateKeyError:
                return False
            return True
        # The version is checked here and the write names the _id alone: FerretDB serves only an
        # exact _id filter from the index (a {_id, version} filter scans every entry), and it
        # rewrites documents read-then-write anyway, so its own conditional update is no stronger.
        key = f"{entry.account}|{entry.chat}"
        stored = self._entries.find_one({"_id": key}, {"version": 1})
        if stored is None or stored["version"] != entry.version:
            return False
        self._entries.replace_one({"_id": key}, doc)
        return True

    async def list(self, account: str, *, limit: int) -> list[ChatListEntry]:
        return await self._run(self._list, account, limit)

    @blocking
    def _list(self, account: str, limit: int) -> list[ChatListEntry]:
        docs = self._entries.find({"account": account}).sort("last_at", DESCENDING).limit(limit)
        return [_entry(doc) for doc in docs]


class MongoMemberships(ThreadedAdapter):
    """Members of the groups (or channels) of one bulkhead database, plus the per-account index
    in the chat list database. The index is rewritten whole by FerretDB on each change, so two
    simultaneous joins of one account could lose one entry; `chats_of` callers treat it as the
    list to watch, and membership itself (the `members` document) is the truth."""

    def __init__(self, bulkhead: Database, chat_list: Database, limiter: trio.CapacityLimiter) -> None:
        super().__init__(limiter)
        self._chats = bulkhead["chats"]
        self._members = bulkhead["members"]
        self._index = chat_list["memberships"]

    @blocking
    def ensure_indexes(self) -> None:
        self._members.create_index([("chat", ASCENDING), ("role", ASCENDING)])

    async def info(self, chat: str) -> ChatInfo | None:
        return await self._run(self._info, chat)

    @blocking
    def _info(self, chat: str) -> ChatInfo | None:
        doc = self._chats.find_one({"_id": chat})
        if doc is None:
            return None
        return ChatInfo(chat=doc["_id"], kind=doc["kind"], title=doc["title"], owner=doc["owner"],
                        created_at=doc["created_at"])

    async def create(self, info: ChatInfo) -> None:
        await self._run(self._create, info)

    @blocking
    def _create(self, info: ChatInfo) -> None:
        self._chats.insert_one({"_id": info.chat, "kind": info.kind, "title": info.title, "owner": info.owner,
                                "created_at": info.created_at, "member_count": 0})

    async def role(self, chat: str, account: str) -> str | None:
        return await self._run(self._role, chat, account)

    @blocking
    def _role(self, chat: str, account: str) -> str | None:
        doc = self._members.find_one({"_id": f"{chat}|{account}"})
        return doc["role"] if doc else None

    async def set_role(self, chat: str, account: str, role: str) -> None:
        await self._run(self._set_role, chat, account, role)

    @blocking
    def _set_role(self, chat: str, account: str, role: str) -> None:
        result = self._members.replace_one({"_id": f"{chat}|{account}"},
                                           {"chat": chat, "account": account, "role": role}, upsert=True)
        if result.upserted_id is not None:
            self._chats.update_one({"_id": chat}, {"$inc": {"member_count": 1}})
            self._index.update_one({"_id": account}, {"$addToSet": {"chats": chat}}, upsert=True)

    async def remove(self, chat: str, account: str) -> bool:
        return await self._run(self._remove, chat, account)

    @blocking
    def _remove(self, chat: str, account: str) -> bool:
        removed = self._members.delete_one({"_id": f"{chat}|{account}"}).deleted_count == 1
        if removed:
            self._chats.update_one({"_id": chat}, {"$inc": {"member_count": -1}})
        self._index.update_one({"_id": account}, {"$pull": {"chats": chat}})
        return removed

    async def members(self, chat: str, *, limit: int) -> list[tuple[str, str]]:
        return await self._run(self._list_members, chat, limit)

    @blocking
    def _list_members(self, chat: str, limit: int) -> list[tuple[str, str]]:
        docs = self._members.find({"chat": chat}).sort("account", ASCENDING).limit(limit)
        return [(doc["account"], doc["role"]) for doc in docs]

    async def count(self, chat: str) -> int:
        return await self._run(self._count, chat)

    @blocking
    def _count(self, chat: str) -> int:
        doc = self._chats.find_one({"_id": chat}, {"member_count": 1})
        return max(doc["member_count"], 0) if doc else 0

    async def chats_of(self, account: str) -> list[str]:
        return await self._run(self._chats_of, account)

    @blocking
    def _chats_of(self, account: str) -> list[str]:
        doc = self._index.find_one({"_id": account})
        return list(doc["chats"]) if doc else []


def _client_key(chat: str, sender: str, client_id: str) -> str:
    return f"{chat}|{sender}|{client_id}"


def _message_doc(message: Message) -> dict[str, Any]:
    doc = {name: getattr(message, name) for name in _MESSAGE_FIELDS}
    for name in _LISTS:
        doc[name] = list(doc[name])
    return {"_id": message_id(message.chat, message.seq), **doc}


def _message(doc: dict[str, Any]) -> Message:
    fields = {name: doc.get(name) for name in _MESSAGE_FIELDS}
    for name in _LISTS:
        fields[name] = tuple(fields[name] or ())
    fields["deleted"] = bool(fields["deleted"])
    return Message(**fields)


def _entry(doc: dict[str, Any]) -> ChatListEntry:
    # Fields added later are missing from older entries: those keep the field's default.
    return ChatListEntry(**{name: doc[name] for name in ChatListEntry.__dataclass_fields__ if name in doc})
