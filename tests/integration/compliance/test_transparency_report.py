"""`svyaz lawful report` over the real lawful-access store: counts by state and category, time to
decision, and nothing that names anyone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace

import pytest
import trio
from pymongo import MongoClient

from svyaz.compliance.lawful.model import LawfulRequest, LegalBasis, Step
from svyaz.compliance.lawful.store import MongoLawfulStore

pytestmark = pytest.mark.usefixtures("stack")
SVYAZ = [sys.executable, "-c", "import sys; from svyaz.cli import main; sys.exit(main())"]
BASIS = LegalBasis("court_order", "N-77/2026", "2026-11-01", "Meshchansky court", "cd" * 32)


async def stored(store: MongoLawfulStore, n: int, *, steps: list[tuple[str, str, float]], categories,
                 submitted_at: float) -> None:
    request = LawfulRequest(id=f"lr-ru-{n:016x}", region="ru", authority="@authority-x:ru", subject=f"@person{n}:ru",
                            categories=categories, since=0.0, until=1.0, deadline=time.time() + 86_400,
                            basis=BASIS, submitted_at=submitted_at)
    await store.create(request)
    taken: list[Step] = []
    for name, actor, after in steps:
        step = Step(name, actor, submitted_at + after, reason="no basis" if name == "reject" else "",
                    role="security_officer")
        assert await store.append_step(replace(request, steps=tuple(taken)), step)
        taken.append(step)


async def test_the_report_counts_the_regions_requests_and_names_nobody(stack, test_id, tmp_path):
    url = stack.mongo("ru")
    client = MongoClient(url)
    try:
        store = MongoLawfulStore(client[f"{test_id}_compliance"], trio.CapacityLimiter(2))
        now = time.time()
        await stored(store, 1, categories=("metadata", "content"), submitted_at=now - 9000, steps=[
            ("review", "@officer-a:ru", 60), ("approve", "@officer-a:ru", 600), ("approve", "@officer-b:ru", 3600)])
        await stored(store, 2, categories=("sessions",), submitted_at=now - 5000,
                     steps=[("review", "@officer-a:ru", 10), ("reject", "@officer-b:ru", 120)])
        await stored(store, 3, categories=("contacts", "metadata"), submitted_at=now - 100, steps=[])
        environ = {**os.environ, "SVYAZ_STORE__URL": url, "SVYAZ_STORE__DATABASE_PREFIX": test_id}
        done = await trio.to_thread.run_sync(lambda: subprocess.run(
            [*SVYAZ, "lawful", "report", "--region", "ru", "--json"],
            env=environ, capture_output=True, text=True, timeout=120))
        text = await trio.to_thread.run_sync(lambda: subprocess.run(
            [*SVYAZ, "lawful", "report", "--region", "ru"],
            env=environ, capture_output=True, text=True, timeout=120))
    finally:
        client.drop_database(f"{test_id}_compliance")
        client.close()
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["total"] == 3 and report["undecided"] == 1
    assert (report["by_state"]["approved"], report["by_state"]["rejected"], report["by_state"]["submitted"]) == (1, 1, 1)
    assert report["by_category"] == {"metadata": 2, "content": 1, "media": 0, "contacts": 1, "sessions": 1}
    times = report["time_to_decision"]
    assert (times["approved"]["p50_s"], times["rejected"]["max_s"], times["all"]["count"]) == (3600, 120, 2)
    assert text.returncode == 0 and "lawful-access requests of ru: 3" in text.stdout
    for leak in ("@", "person", "authority-x", "officer", "lr-ru-", "N-77", "court", "no basis"):
        assert leak not in done.stdout and leak not in text.stdout
