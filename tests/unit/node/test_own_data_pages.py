"""Paging of account.data.export (svyaz/node/handlers/own_data.py) and its reassembly by the client
(svyaz/client/own_data.py): every page under the frame limit, every record back as it was."""

from __future__ import annotations

import json

import pytest

from svyaz.client.own_data import assemble
from svyaz.errors import SvyazError
from svyaz.node.handlers.own_data import EXPORT_TTL_S, Export, ExportCache, UnknownExport, paginate

FRAME_LIMIT = 64 * 1024


def records():
    yield "profile", {"display_name": "Алиса", "about": "", "presence": "everyone"}
    for n in range(300):
        yield "content", {"chat": "dm/@alice:ru/@bob:ru", "seq": n + 1, "text": f"сообщение {n} " * 40}
    # One record far larger than a page: a group with many members.
    yield "metadata", {"record": "chat", "chat": "g/ru/0123456789abcdef",
                       "members": [{"account": f"@участник{n}:ru", "role": "member"} for n in range(5000)]}
    yield "sessions", {"session": "s1", "address": "10.0.0.1"}


def frame_of(page, n, pages):
    """What the gateway would send for this page (frames.py: compact JSON, UTF-8)."""
    reply = {"type": "result", "id": "123", "data": {"export": "x" * 24, "page": n, "pages": pages, "items": page,
                                                      "next": n + 1}}
    return json.dumps(reply, ensure_ascii=False, separators=(",", ":")).encode()


def test_pages_stay_under_the_frame_limit_and_reassemble_exactly():
    pages = paginate(records())
    assert len(pages) > 10
    assert all(len(frame_of(page, n, len(pages))) < FRAME_LIMIT for n, page in enumerate(pages))
    assert any("chunk" in item for page in pages for item in page)
    wire = [{"items": page, "next": n + 1 if n + 1 < len(pages) else None} for n, page in enumerate(pages)]
    wire[0].update(account="@alice:ru", region="ru", counts={"content": 300})
    export = assemble(json.loads(json.dumps(wire)))
    expected: dict[str, list] = {}
    for category, record in records():
        expected.setdefault(category, []).append(record)
    assert export["data"] == {"content": [], **expected} and list(export["data"])[0] == "content"
    assert export["account"] == "@alice:ru" and export["counts"] == {"content": 300}


def test_an_empty_export_is_one_empty_page():
    assert paginate([]) == [[]]
    assert assemble([{"items": []}])["data"] == {}


def test_a_missing_chunk_is_reported_not_silently_dropped():
    pages = paginate(records())
    chunked = [page for page in pages if any("chunk" in item for item in page)]
    wire = [{"items": page} for page in pages if page is not chunked[0]]
    with pytest.raises(SvyazError, match="arrived only in part"):
        assemble(wire)


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


def test_an_export_is_its_own_accounts_and_expires():
    clock = Clock()
    cache = ExportCache(clock=clock)
    export = Export(id="e1", account="@alice:ru", created_at=0.0, pages=((),), counts={}, notices=())
    cache.put(export)
    assert cache.get("e1", "@alice:ru") is export
    with pytest.raises(UnknownExport):
        cache.get("e1", "@bob:ru")       # someone else's: as if it did not exist
    with pytest.raises(UnknownExport):
        cache.get("e2", "@alice:ru")
    clock.now = EXPORT_TTL_S + 1
    with pytest.raises(UnknownExport):
        cache.get("e1", "@alice:ru")
