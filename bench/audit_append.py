"""Audit log appends per second and their latency at given log sizes, against the real store.

    .venv/bin/python bench/audit_append.py [--store-url mongodb://127.0.0.1:27117/] [--sizes 1000,10000]
                                           [--appends 200] [--writers 1] [--json]

For each size: a database of its own (dropped afterwards) is filled with that many chained entries
(computed here, stored with one insert_many per 1,000, under the `_id`s the store in this checkout
writes, with the head hint it leaves), then `--writers` fresh `MongoAuditStore`s, each with its own client and in its own thread,
as the processes of a node would, append `--appends` entries between them. A store's first append
(which finds the head of an existing log) is reported apart as `first_append_ms`; the rest are the
steady state. No checkpoints are signed (one per 1,000 entries; its cost is not an append's).
To measure another version of the store, put its checkout first on PYTHONPATH.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import uuid

from pymongo import MongoClient

from svyaz.compliance.audit import store as store_module
from svyaz.compliance.audit.chain import next_entry
from svyaz.compliance.audit.event import AuditEvent
from svyaz.compliance.audit.store import MongoAuditStore, database_name
from svyaz.gost import load_gost_provider

FILL_BATCH = 1000


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    pick = lambda q: ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]  # noqa: E731
    return {"p50": round(pick(0.50), 2), "p95": round(pick(0.95), 2), "p99": round(pick(0.99), 2)}


def event(n: int) -> AuditEvent:
    return AuditEvent(
        actor=f"@bench{n % 97}:ru", role="user", action="auth.login", target="-", region="ru",
        request_id=f"bench-{n}", outcome="success", detail={"address": f"192.0.2.{n % 250}"},
    )


def fill(client: MongoClient, prefix: str, size: int) -> None:
    # Stored as this checkout's store would have written them (older stores had no entry_document).
    document = getattr(store_module, "entry_document", lambda entry: entry.to_document())
    entries = client[database_name(prefix)]["audit"]
    head, batch = None, []
    for n in range(1, size + 1):
        head = next_entry(head, event(n), f"2026-11-28T09:00:00.{n % 10**6:06d}Z")
        batch.append(document(head))
        if len(batch) == FILL_BATCH or n == size:
            entries.insert_many(batch, ordered=False)
            batch = []
    every = getattr(store_module, "HINT_EVERY", None)
    if every is not None and size >= every:  # the head hint the store leaves every HINT_EVERY entries
        hint = {"_id": store_module.HEAD_HINT_ID, "seq": size - size % every}
        client[database_name(prefix)][store_module.HEAD_HINT].insert_one(hint)


def measure(url: str, size: int, appends: int, writers: int) -> dict:
    prefix = f"bench_{uuid.uuid4().hex[:8]}"
    admin = MongoClient(url)
    try:
        MongoAuditStore(admin, prefix).ensure_indexes()
        began = time.perf_counter()
        fill(admin, prefix, size)
        fill_s = time.perf_counter() - began
        stores = [MongoAuditStore.connect(url, prefix, timeout_s=30) for _ in range(writers)]
        first_ms: list[float] = []
        samples: list[list[float]] = [[] for _ in range(writers)]
        errors: list[BaseException] = []
        start = threading.Barrier(writers + 1)
        share = [appends // writers + (1 if index < appends % writers else 0) for index in range(writers)]

        def write(index: int) -> None:
            store = stores[index]
            try:
                t0 = time.perf_counter()
                store.append(event(10**7 * (index + 1)))
                first_ms.append((time.perf_counter() - t0) * 1000)
                start.wait()
                for n in range(share[index]):
                    t0 = time.perf_counter()
                    store.append(event(10**7 * (index + 1) + n + 1))
                    samples[index].append((time.perf_counter() - t0) * 1000)
            except BaseException as err:
                errors.append(err)
                start.abort()

        threads = [threading.Thread(target=write, args=(index,)) for index in range(writers)]
        for thread in threads:
            thread.start()
        start.wait()
        began = time.perf_counter()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
        for store in stores:
            store.close()
        if errors:
            raise errors[0]
        every = [sample for samples_ in samples for sample in samples_]
        head = admin[database_name(prefix)]["audit"].count_documents({})
        return {
            "log_size": size, "writers": writers, "appends": len(every),
            "appends_per_s": round(len(every) / elapsed, 1), "latency_ms": percentiles(every),
            "first_append_ms": round(max(first_ms), 1), "fill_s": round(fill_s, 1),
            "entries_after": head,
        }
    finally:
        admin.drop_database(database_name(prefix))
        admin.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store-url", default="mongodb://127.0.0.1:27117/")
    parser.add_argument("--sizes", default="1000,10000", help="log sizes, comma-separated")
    parser.add_argument("--appends", type=int, default=200, help="appends measured per size (all writers)")
    parser.add_argument("--writers", type=int, default=1, help="stores appending at once, one thread each")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    load_gost_provider()

    runs = [measure(args.store_url, int(size), args.appends, args.writers) for size in args.sizes.split(",")]
    result = {"cpus": os.cpu_count(), "store": args.store_url, "store_module": store_module.__file__, "runs": runs}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for run in runs:
            lat = run["latency_ms"]
            print(f"log {run['log_size']:>6}  {run['writers']} writer(s)  {run['appends_per_s']:>7}/s  "
                  f"p50 {lat['p50']} ms  p95 {lat['p95']} ms  p99 {lat['p99']} ms  (n={run['appends']}; "
                  f"first append {run['first_append_ms']} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
