"""The Mongo-wire adapters of the message store (one bulkhead database) and the chat list.

Every read on the hot path is a point read by `_id` (FerretDB on SQLite serves only those from an
index; docs/adr/0003). Races between processes are settled by unique keys on insert, never by
read-then-write: a message's `_id` is `<chat>#<seq>`, and a unique index on (chat, sender,
client_id) makes a resend unable to store a second copy even if its writer died half-way.

Collections of a bulkhead database (`<prefix>_private`): `messages`, `client_ids` (client id ->
seq, the fast resend lookup), `heads` (a hint of each chat's last seq; reads probe past it, so it
may lag but the answer does not), `cursors` (delivered/read position per chat and account).
Chat list database (`<prefix>_chatlist`): `entries`, one per (account, chat).

Message text and links, and chat-list previews, are sealed at rest when the adapter is given an
`AtRest` with a sealer (svyaz/messaging/at_rest.py); documents written before that, in clear, are
read as they are until `svyaz node content-key rewrap` seals them (`rewrap_documents`).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, ParamSpec, TypeVar

import trio
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError

from svyaz.messaging.at_rest import (
    CHAT_PREVIEW,
    MESSAGE_CONTENT,
    PLAINTEXT,
    REPORT_EVIDENCE,
    AtRest,
    Protected,
    StoreCorrupt,
    has_content,
    key_of,
)
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
    def __init__(self, database: Database, limiter: trio.CapacityLimiter, *, at_rest: AtRest = PLAINTEXT) -> None:
        super().__init__(limiter)
        self._at_rest = at_rest
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
            self._messages.insert_one(self._doc(message))
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
        return Inserted(existing=self._message(holder))

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
        return self._message(doc) if doc is not None else None

    async def seq_of(self, chat: str, sender: str, client_id: str) -> int | None:
        return await self._run(self._seq_of, chat, sender, client_id)

    @blocking
    def _seq_of(self, chat: str, sender: str, client_id: str) -> int | None:
        known = self._client_ids.find_one({"_id": _client_key(chat, sender, client_id)})
        if known is not None:
            return known["seq"]
        # A writer that died before recording the client id: the slow lookup, as for a resend.
        doc = self._messages.find_one({"chat": chat, "sender": sender, "client_id": client_id}, {"seq": 1})
        return doc["seq"] if doc is not None else None

    async def page(self, chat: str, seqs: range) -> list[Message]:
        return await self._run(self._page, chat, seqs)

    @blocking
    def _page(self, chat: str, seqs: range) -> list[Message]:
        # One point read per message: `$in` on _id is not served from FerretDB's index.
        docs = (self._messages.find_one({"_id": message_id(chat, seq)}) for seq in seqs)
        return [self._message(doc) for doc in docs if doc is not None]

    async def sent_between(self, chat: str, since: float, until: float) -> list[Message]:
        """`chat`'s messages sent in [since, until), by seq, content opened. A filtered scan, not a
        point read: for lawful exports (svyaz.compliance.lawful.collect), never the hot path."""
        return await self._run(self._sent_between, chat, since, until)

    @blocking
    def _sent_between(self, chat: str, since: float, until: float) -> list[Message]:
        docs = self._messages.find({"chat": chat, "sent_at": {"$gte": since, "$lt": until}}).sort("seq", ASCENDING)
        return [self._message(doc) for doc in docs]

    async def chats_written_by(self, sender: str) -> list[str]:
        """The chats of this database in which `sender` has a stored message (a scan; lawful exports)."""
        return await self._run(self._chats_written_by, sender)

    @blocking
    def _chats_written_by(self, sender: str) -> list[str]:
        return sorted({doc["chat"] for doc in self._messages.find({"sender": sender}, {"chat": 1, "_id": 0})})

    async def replace(self, message: Message) -> None:
        await self._run(self._replace, message)

    @blocking
    def _replace(self, message: Message) -> None:
        self._messages.replace_one({"_id": message_id(message.chat, message.seq)}, self._doc(message))

    def _doc(self, message: Message) -> dict[str, Any]:
        return self._at_rest.sealed(MESSAGE_CONTENT, _message_doc(message))

    def _message(self, doc: dict[str, Any]) -> Message:
        return _message(self._at_rest.opened(MESSAGE_CONTENT, doc))

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
    def __init__(self, database: Database, limiter: trio.CapacityLimiter, *, at_rest: AtRest = PLAINTEXT) -> None:
        super().__init__(limiter)
        self._at_rest = at_rest
        self._entries = database["entries"]

    @blocking
    def ensure_indexes(self) -> None:
        self._entries.create_index([("account", ASCENDING), ("last_at", DESCENDING)])

    async def get(self, account: str, chat: str) -> ChatListEntry | None:
        return await self._run(self._get, account, chat)

    @blocking
    def _get(self, account: str, chat: str) -> ChatListEntry | None:
        doc = self._entries.find_one({"_id": f"{account}|{chat}"})
        return self._entry(doc) if doc is not None else None

    async def put(self, entry: ChatListEntry) -> bool:
        return await self._run(self._put, entry)

    @blocking
    def _put(self, entry: ChatListEntry) -> bool:
        key = f"{entry.account}|{entry.chat}"
        doc = self._at_rest.sealed(CHAT_PREVIEW, {"_id": key, **asdict(entry), "version": entry.version + 1})
        if entry.version == 0:
            try:
                self._entries.insert_one(doc)
            except DuplicateKeyError:
                return False
            return True
        # The version is checked here and the write names the _id alone: FerretDB serves only an
        # exact _id filter from the index (a {_id, version} filter scans every entry), and it
        # rewrites documents read-then-write anyway, so its own conditional update is no stronger.
        stored = self._entries.find_one({"_id": key}, {"version": 1})
        if stored is None or stored["version"] != entry.version:
            return False
        self._entries.replace_one({"_id": key}, {name: value for name, value in doc.items() if name != "_id"})
        return True

    async def list(self, account: str, *, limit: int) -> list[ChatListEntry]:
        return await self._run(self._list, account, limit)

    @blocking
    def _list(self, account: str, limit: int) -> list[ChatListEntry]:
        docs = self._entries.find({"account": account}).sort("last_at", DESCENDING).limit(limit)
        return [self._entry(doc) for doc in docs]

    def _entry(self, doc: dict[str, Any]) -> ChatListEntry:
        return _entry(self._at_rest.opened(CHAT_PREVIEW, doc))


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


# Where sealed content lives, per database suffix of a node's store: what `content-key rewrap`
# and `retire` walk. Comment threads live in the channels database with the posts.
PROTECTED_COLLECTIONS: tuple[tuple[str, str, Protected], ...] = (
    ("private", "messages", MESSAGE_CONTENT),
    ("groups", "messages", MESSAGE_CONTENT),
    ("channels", "messages", MESSAGE_CONTENT),
    ("chatlist", "entries", CHAT_PREVIEW),
    ("moderation", "reports", REPORT_EVIDENCE),
)
_MISSING = object()
_RESEAL_ATTEMPTS = 5


@dataclass
class RewrapBatch:
    """What one batch of `rewrap_documents` did: where it stopped, outcome counts, and the ids of
    the documents that did not open (left as they are)."""

    last_id: object
    counts: Counter[str] = field(default_factory=Counter)
    unreadable: list[object] = field(default_factory=list)


def rewrap_documents(collection: Collection, spec: Protected, at_rest: AtRest, *, after: object = None,
                     batch: int = 500) -> Iterator[RewrapBatch]:
    """Seal every document of `collection` that holds `spec`'s fields in clear or under another
    key than the current one, walking in `_id` order after `after` with one cursor (FerretDB
    serves only `_id` from an index: a query per batch would scan the collection each time).
    Yields once per `batch` documents, so a caller can record where to resume. Outcomes: current,
    empty, sealed (was plaintext), resealed (was another key), unreadable, gone (deleted meanwhile)."""
    assert at_rest.sealer is not None and at_rest.seal_new
    query = {} if after is None else {"_id": {"$gt": after}}
    done = RewrapBatch(after)
    try:
        for doc in collection.find(query, sort=[("_id", ASCENDING)], batch_size=batch):
            outcome = _rewrap_one(collection, spec, at_rest, doc)
            done.counts[outcome] += 1
            if outcome == "unreadable":
                done.unreadable.append(doc["_id"])
            done.last_id = doc["_id"]
            if done.counts.total() >= batch:
                yield done
                done = RewrapBatch(done.last_id)
    except PyMongoError as err:
        raise StoreUnavailable(f"the store did not answer while rewrapping {collection.full_name}: "
                               f"{str(err).split(', Timeout:')[0]}") from err
    yield done


def _rewrap_one(collection: Collection, spec: Protected, at_rest: AtRest, doc: dict[str, Any]) -> str:
    current = at_rest.current_key()
    sealed_with = key_of(spec, doc)
    in_clear = [name for name in spec.fields if name in doc]
    if sealed_with == current and not in_clear:
        return "current"
    if sealed_with is None and not has_content(spec, doc):
        return "empty"
    try:
        target = _target(spec, at_rest, doc)
    except StoreCorrupt:
        return "unreadable"
    expected = _protected_state(spec, doc)
    # A node may rewrite the document between this read and the write below (an edit, a delete, a
    # new preview). The write returns what it replaced: if that is not what was read, the node's
    # newer content was just overwritten, and is put back (sealed) from the returned copy.
    for _ in range(_RESEAL_ATTEMPTS):
        update: dict[str, Any] = {"$set": target["set"]} if target["set"] else {}
        if target["unset"]:
            update["$unset"] = dict.fromkeys(target["unset"], "")
        before = collection.find_one_and_update({"_id": doc["_id"]}, update, return_document=ReturnDocument.BEFORE)
        if before is None:
            return "gone"
        if _protected_state(spec, before) == expected:
            return "sealed" if sealed_with is None else "resealed"
        expected = {name: target["set"].get(name, _MISSING) for name in (spec.envelope, *spec.fields)}
        try:
            target = _target(spec, at_rest, before)
        except StoreCorrupt:
            return "unreadable"
    raise StoreUnavailable(f"{collection.full_name} document {doc['_id']} kept changing while being rewrapped; "
                           "run the rewrap again")


def _target(spec: Protected, at_rest: AtRest, doc: dict[str, Any]) -> dict[str, Any]:
    """The protected part of `doc` as it should be stored now: fields to $set and to $unset."""
    values = {name: doc[name] for name in spec.fields if name in doc}
    if spec.envelope in doc:
        values.update(at_rest.open_envelope(spec, doc))
    # Everything else of the protected part is unset, present or not: after a lost race the stored
    # document holds what this rewrap wrote, not what `doc` shows.
    if not has_content(spec, values):
        return {"set": values, "unset": [spec.envelope]}
    return {"set": at_rest.envelope(spec, doc["_id"], values),
            "unset": list(spec.fields)}


def _protected_state(spec: Protected, doc: dict[str, Any]) -> dict[str, Any]:
    return {name: doc.get(name, _MISSING) for name in (spec.envelope, *spec.fields)}


def first_sealed_with(collection: Collection, spec: Protected, key_id: str) -> object | None:
    """The `_id` of a document of `collection` sealed with `key_id`, or None (one server-side scan)."""
    try:
        doc = collection.find_one({f"{spec.envelope}.k": key_id}, {"_id": 1})
    except PyMongoError as err:
        raise StoreUnavailable(f"the store did not answer while searching {collection.full_name}: "
                               f"{str(err).split(', Timeout:')[0]}") from err
    return doc["_id"] if doc is not None else None
