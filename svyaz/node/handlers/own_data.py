"""account.data.export: everything this node holds about the caller, for the caller (the data
subject's access right, 152-FZ art. 14; docs/compliance.md, "A user's own data").

The caller's own account only: the action takes no account argument, and an export started by one
account cannot be read by another. What is exported:

    account     id, region, when it was created, whether two-factor authentication is on (never the
                password hash, the TOTP secret or recovery codes: those are credentials, not data
                to hand out again)
    profile     display name, about, who sees one's presence
    sessions    every session, ended ones too: device, client, address, created, last seen
    contacts    private-chat peers, group and channel memberships, blocks
    metadata    one record per conversation, one per message sent or received in it
    content     the text and links of those messages (a secret chat's: its sealed envelope, which
                only the devices can open)
    media       media references
    channel_posts   the caller's own channel posts and comments, with their text

The records come from the lawful-export collector (`svyaz.compliance.lawful.collect`), called
with every category and the whole time range, over the same store adapters (`NodeHoldings`): a
user sees what an authority with a warrant for every category would, no less. One change: which
*other* accounts hid a message for themselves is their business, so a message says only whether
the caller hid it (`hidden_by_you`).

Paging: a reply is one WebSocket message, and the node's frames stay under the gateway's 64 KiB
limit. The first call (no arguments) collects everything, keeps it for this connection's process
for `EXPORT_TTL_S`, and answers with page 0, the number of pages and an `export` id; then
`{export, page}` reads page n. A record larger than a page is split into `chunk`s of its JSON text
that the client joins (svyaz/client/own_data.py). Each export is audited once, with counts.

    account.data.export  {}                -> {export, page: 0, pages, generated_at, account, region,
                                                counts: {category: n}, notices, items, next}
    account.data.export  {export, page}    -> {export, page, pages, items, next}
    item: {"category": c, "record": {...}}
       or {"category": c, "chunk": {"id": k, "n": i, "of": m, "json": "<part of the record's JSON>"}}
"""

from __future__ import annotations

import json
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import trio

from svyaz.compliance.audit.event import AuditEvent, AuditSink
from svyaz.compliance.lawful.bundle import utc
from svyaz.compliance.lawful.collect import SubjectHoldings, collect
from svyaz.compliance.lawful.model import CATEGORIES, LawfulRequest, LegalBasis
from svyaz.errors import SvyazError
from svyaz.identity.store import IdentityStore
from svyaz.messaging.model import Message
from svyaz.node.api import Call, Handler
from svyaz.node.handlers.args import me, only, optional_position, text

if TYPE_CHECKING:
    from svyaz.node.messaging import Messaging

PAGE_BYTES = 48 * 1024      # records per reply; the reply's own fields fit in what is left of 64 KiB
EXPORT_TTL_S = 600.0
EXPORTS_KEPT = 16           # per process; the oldest is forgotten first
SECTIONS = ("account", "profile", "sessions", "contacts", "metadata", "content", "media", "channel_posts")


class UnknownExport(SvyazError):
    """No export with this id for this account in this process (expired, or someone else's)."""

    code = "unknown_export"


@dataclass(frozen=True)
class Export:
    id: str
    account: str
    created_at: float
    pages: tuple[tuple[dict[str, Any], ...], ...]
    counts: dict[str, int]
    notices: tuple[str, ...]


def paginate(items: Iterable[tuple[str, dict[str, Any]]], *, page_bytes: int = PAGE_BYTES
             ) -> list[list[dict[str, Any]]]:
    """(category, record) pairs packed into pages of at most `page_bytes` of JSON each; a record
    too large for a page of its own is cut into chunks of its JSON text. Never an empty export:
    at least one (possibly empty) page."""
    pages: list[list[dict[str, Any]]] = [[]]
    used = 0
    chunk_ids = 0
    for category, record in items:
        item = {"category": category, "record": record}
        size = _size(item)
        if size > page_bytes:
            encoded = json.dumps(record, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
            # JSON-escaping a part can grow it up to 6x (\uXXXX): cut well under the page.
            step = max(1, page_bytes // 8)
            parts = [encoded[start:start + step] for start in range(0, len(encoded), step)]
            chunk_ids += 1
            pieces = [{"category": category, "chunk": {"id": chunk_ids, "n": n, "of": len(parts), "json": part}}
                      for n, part in enumerate(parts)]
        else:
            pieces = [item]
        for piece in pieces:
            piece_size = _size(piece)
            if used and used + piece_size > page_bytes:
                pages.append([])
                used = 0
            pages[-1].append(piece)
            used += piece_size
    return pages


def _size(item: dict[str, Any]) -> int:
    return len(json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode()) + 1


class ExportCache:
    """Exports of this process, by id, for `EXPORT_TTL_S`; at most EXPORTS_KEPT."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._exports: OrderedDict[str, tuple[float, Export]] = OrderedDict()
        self._clock = clock

    def put(self, export: Export) -> None:
        self._exports[export.id] = (self._clock(), export)
        while len(self._exports) > EXPORTS_KEPT:
            self._exports.popitem(last=False)

    def get(self, export_id: str, account: str) -> Export:
        now = self._clock()
        for stale in [key for key, (at, _) in self._exports.items() if now - at > EXPORT_TTL_S]:
            del self._exports[stale]
        found = self._exports.get(export_id)
        # Someone else's export is answered exactly like one that does not exist.
        if found is None or found[1].account != account:
            raise UnknownExport("no such export for this account (it expires after "
                                f"{EXPORT_TTL_S / 60:.0f} minutes, or was started on another connection)",
                                hint="start again: call account.data.export without arguments")
        return found[1]


class OwnDataHandlers:
    def __init__(self, *, holdings: SubjectHoldings, identity: IdentityStore, channel_messages: Any,
                 audit: AuditSink, limiter: trio.CapacityLimiter, region: str,
                 clock: Callable[[], float] = time.time) -> None:
        self._holdings = holdings
        self._identity = identity
        self._channel_messages = channel_messages
        self._audit = audit
        self._limiter = limiter
        self._region = region
        self._clock = clock
        self._cache = ExportCache()

    @classmethod
    def wired(cls, *, messaging: Messaging, identity_store: IdentityStore, limiter: trio.CapacityLimiter,
              audit: AuditSink) -> OwnDataHandlers:
        from svyaz.node.lawful_holdings import NodeHoldings

        return cls(holdings=NodeHoldings.of(messaging, identity_store, limiter), identity=identity_store,
                   channel_messages=messaging.channel_messages, audit=audit, limiter=limiter,
                   region=messaging.config.region)

    def routes(self) -> dict[str, Handler]:
        return {"account.data.export": self.export}

    async def export(self, call: Call) -> dict[str, Any]:
        args = only(call, "export", "page")
        account = me(call)
        if "export" not in args:
            export = await self._start(call, account)
            return self._page(export, 0, first=True)
        export = self._cache.get(text(args, "export", limit=64), account)
        page = optional_position(args, "page") or 0
        if page >= len(export.pages):
            raise UnknownExport(f"export {export.id} has pages 0-{len(export.pages) - 1}, not {page}")
        return self._page(export, page, first=False)

    async def _start(self, call: Call, account: str) -> Export:
        now = self._clock()
        sections = await self._collect(account, now)
        pages = paginate((category, record) for category in SECTIONS for record in sections.get(category, ()))
        counts = {category: len(sections.get(category, ())) for category in SECTIONS}
        export = Export(id=secrets.token_hex(12), account=account, created_at=now,
                        pages=tuple(tuple(page) for page in pages), counts=counts,
                        notices=tuple(sections.get("_notices", ())))
        # Audited before anything leaves: no record, no export.
        await self._audit.record(AuditEvent(
            actor=account, role="user", action=call.action, target=account, region=call.region,
            request_id=call.request_id, outcome="success",
            detail={"address": call.caller.address, "pages": str(len(export.pages)),
                    **{f"{category}_records": str(count) for category, count in counts.items()}}))
        self._cache.put(export)
        return export

    def _page(self, export: Export, page: int, *, first: bool) -> dict[str, Any]:
        reply: dict[str, Any] = {"export": export.id, "page": page, "pages": len(export.pages),
                                 "items": list(export.pages[page]),
                                 "next": page + 1 if page + 1 < len(export.pages) else None}
        if first:
            reply.update(generated_at=utc(export.created_at), account=export.account, region=self._region,
                         counts=dict(export.counts), notices=list(export.notices))
        return reply

    async def _collect(self, account: str, now: float) -> dict[str, list[Any]]:
        request = LawfulRequest(
            id="own-data", region=self._region, authority=account, subject=account, categories=CATEGORIES,
            since=0.0, until=now + 1.0, deadline=now + 1.0, submitted_at=now,
            basis=LegalBasis(kind="data_subject_access", number="152-FZ art. 14", date=time.strftime("%Y-%m-%d"),
                             issuer=account, document_hash="0" * 64))
        collected = await collect(request, self._holdings)
        records: dict[str, list[Any]] = {category: list(found) for category, found in collected.records.items()}
        for record in records.get("metadata", ()):
            if record.get("record") == "message":
                hidden = record.pop("hidden_for", [])
                record["hidden_by_you"] = account in hidden
        records["account"] = [await self._run(self._account, account)]
        records["profile"] = [(await self._run(self._identity.get_profile, account)).as_dict()]
        records["channel_posts"] = await self._channel_posts(account, now)
        records["_notices"] = list(collected.notices)
        return records

    def _account(self, account: str) -> dict[str, Any]:
        record = self._identity.get_account(account)
        totp = self._identity.get_totp(account)
        return {"account": account, "region": self._region,
                "created_at": utc(record.created_at) if record is not None else None,
                "two_factor": bool(totp is not None and totp.enabled),
                "two_factor_since": utc(totp.confirmed_at) if totp is not None and totp.enabled else None}

    async def _channel_posts(self, account: str, now: float) -> list[dict[str, Any]]:
        found = []
        for chat in await self._channel_messages.chats_written_by(account):
            messages: list[Message] = await self._channel_messages.sent_between(chat, 0.0, now + 1.0)
            found.extend({"chat": m.chat, "seq": m.seq, "sent_at": utc(m.sent_at), "edited_at": utc(m.edited_at),
                          "deleted": m.deleted, "text": m.text, "links": list(m.links), "media": m.media}
                         for m in messages if m.sender == account)
        return found

    async def _run(self, function: Callable[..., Any], *args: Any) -> Any:
        return await trio.to_thread.run_sync(function, *args, limiter=self._limiter)
