"""The transparency report's aggregation over request records (svyaz/compliance/lawful/transparency.py)."""

from __future__ import annotations

import json

from svyaz.compliance.lawful.model import LawfulRequest, LegalBasis, Step
from svyaz.compliance.lawful.transparency import decision, nearest_rank, transparency_report

BASIS = LegalBasis(kind="court_order", number="A-1", date="2026-10-01", issuer="court", document_hash="0" * 64)


def request(n: int, *, region: str = "ru", state: str = "submitted", categories=("metadata",), submitted_at=1000.0,
            steps=(), subject: str = "@secret-subject:ru") -> LawfulRequest:
    return LawfulRequest(id=f"req-{n}", region=region, authority="@authority-name:ru", subject=subject,
                         categories=tuple(categories), since=0.0, until=1.0, deadline=1e10, basis=BASIS,
                         state=state, submitted_at=submitted_at, steps=tuple(steps))


def approved(n: int, after_s: float, **kw) -> LawfulRequest:
    at = 1000.0
    return request(n, state="approved", submitted_at=at, steps=(
        Step("review", "@officer-a:ru", at + 1), Step("approve", "@officer-a:ru", at + after_s / 2),
        Step("approve", "@officer-b:ru", at + after_s)), **kw)


def rejected(n: int, after_s: float, **kw) -> LawfulRequest:
    return request(n, state="rejected", steps=(Step("reject", "@officer-a:ru", 1000.0 + after_s, "no basis"),), **kw)


def test_the_deciding_step_is_the_second_distinct_approval_or_the_rejection():
    assert decision(approved(1, 600)) == ("approved", 600)
    assert decision(rejected(2, 30)) == ("rejected", 30)
    assert decision(request(3, state="in_review", steps=(Step("approve", "@o:ru", 1500.0),))) is None
    # The same officer twice is one approval (the workflow refuses the second; the report does not count it).
    twice = request(4, state="in_review", steps=(Step("approve", "@o:ru", 1100.0), Step("approve", "@o:ru", 1200.0)))
    assert decision(twice) is None
    # Approved, then exported and delivered: still decided when it was approved.
    later = approved(5, 100)
    later = request(5, state="delivered", steps=later.steps + (Step("export", "@o:ru", 5000.0),
                                                              Step("deliver", "@o:ru", 6000.0)))
    assert decision(later) == ("approved", 100)


def test_nearest_rank_percentiles():
    values = [1.0, 2.0, 3.0, 4.0]
    assert (nearest_rank(values, 50), nearest_rank(values, 95), nearest_rank(values, 100)) == (2.0, 4.0, 4.0)
    assert nearest_rank([], 50) is None
    hundred = [float(n) for n in range(1, 101)]
    assert (nearest_rank(hundred, 50), nearest_rank(hundred, 95)) == (50.0, 95.0)


def test_the_report_counts_by_state_and_category_and_times_decisions():
    requests = [
        approved(1, 3600, categories=("metadata", "content")),
        approved(2, 7200, categories=("content",)),
        rejected(3, 60, categories=("sessions",)),
        request(4, state="in_review", categories=("contacts", "metadata")),
        request(5, state="expired"),
        approved(6, 10, region="kz"),                       # another region's: not in ru's report
    ]
    report = transparency_report(requests, "ru")
    assert report.total == 5
    assert report.by_state["approved"] == 2 and report.by_state["rejected"] == 1
    assert report.by_state["in_review"] == 1 and report.by_state["expired"] == 1 and report.by_state["closed"] == 0
    assert report.by_category == {"metadata": 3, "content": 2, "media": 0, "contacts": 1, "sessions": 1}
    assert (report.approved.count, report.approved.p50_s, report.approved.max_s) == (2, 3600, 7200)
    assert (report.rejected.count, report.rejected.p95_s) == (1, 60)
    assert (report.decided.count, report.decided.p50_s, report.decided.p95_s, report.decided.max_s) == (3, 3600, 7200, 7200)
    assert report.undecided == 2


def test_the_period_filters_on_submission():
    requests = [request(1, submitted_at=100.0), request(2, submitted_at=200.0), request(3, submitted_at=300.0)]
    assert transparency_report(requests, "ru", since=200.0, until=300.0).total == 1
    assert transparency_report([], "ru").decided.p50_s is None


def test_the_report_holds_counts_only():
    report = transparency_report([approved(1, 60), rejected(2, 5), request(3)], "ru").as_dict()
    text = json.dumps(report)
    for secret in ("secret-subject", "authority-name", "officer", "req-", "A-1", "court", "no basis"):
        assert secret not in text


def test_an_overdue_request_nobody_expired_counts_as_expired_at_now():
    overdue = LawfulRequest(id="r", region="ru", authority="@a:ru", subject="@s:ru", categories=("metadata",),
                            since=0.0, until=1.0, deadline=2000.0, basis=BASIS, state="in_review", submitted_at=1000.0)
    assert transparency_report([overdue], "ru").by_state["in_review"] == 1
    at_now = transparency_report([overdue], "ru", now=3000.0)
    assert (at_now.by_state["in_review"], at_now.by_state["expired"], at_now.undecided) == (0, 1, 1)
