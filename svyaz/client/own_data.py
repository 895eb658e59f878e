"""`svyaz account export --out FILE`: download everything the home node holds about the current
account (`account.data.export`, page by page) into one JSON file, readable by its owner only."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from svyaz.errors import SvyazError

MAX_PAGES = 100_000


def assemble(pages: list[dict[str, Any]]) -> dict[str, Any]:
    """The export the pages carry: records by category, chunked records joined again."""
    if not pages:
        raise SvyazError("the node sent no export")
    first = pages[0]
    # Every category the node counted, even an empty one: "none" is an answer too.
    data: dict[str, list[Any]] = {category: [] for category in first.get("counts", {})}
    chunks: dict[tuple[str, int], dict[int, str]] = {}
    sizes: dict[tuple[str, int], int] = {}
    for page in pages:
        for item in page.get("items", ()):
            category = item["category"]
            bucket = data.setdefault(category, [])
            if "record" in item:
                bucket.append(item["record"])
                continue
            chunk = item["chunk"]
            key = (category, chunk["id"])
            parts = chunks.setdefault(key, {})
            parts[chunk["n"]] = chunk["json"]
            sizes[key] = chunk["of"]
            if len(parts) == sizes[key]:
                bucket.append(json.loads("".join(parts[n] for n in range(sizes[key]))))
                del chunks[key]
    if chunks:
        raise SvyazError(f"the export is incomplete: {len(chunks)} record(s) arrived only in part",
                         hint="run the export again")
    return {"account": first.get("account"), "region": first.get("region"),
            "generated_at": first.get("generated_at"), "counts": first.get("counts", {}),
            "notices": first.get("notices", []), "data": data}


async def download(client) -> dict[str, Any]:
    """Every page of a new export through `client` (a NodeClient signed in as the account)."""
    page = await client.call("account.data.export")
    pages = [page]
    while page.get("next") is not None and len(pages) < MAX_PAGES:
        page = await client.call("account.data.export", export=pages[0]["export"], page=page["next"])
        pages.append(page)
    return assemble(pages)


def write_private(path: Path, export: dict[str, Any]) -> None:
    """Write the export to `path`, created 0600 (it holds one's messages and sign-in addresses)."""
    data = json.dumps(export, ensure_ascii=False, indent=2).encode()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
