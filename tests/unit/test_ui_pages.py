"""The staff pages' plain logic: panels regroup API answers honestly, the console flags deadlines.

No I/O: the pages' data shaping, the redirect guard, and the local Swagger UI of both apps.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import orjson

from schemas.rows import AuditRow
from services.api.requests import PrivacyRequestOut
from services.api.ui import casefile, panels
from services.api.ui.signin import _safe_next
from services.api.usage import (
    Bucket,
    ConsentOut,
    ConsentVersionsOut,
    Group,
    Other,
    UsageOut,
    VersionBucket,
    VersionGroup,
)
from services.collector.app import create_app as collector_app
from services.collector.config import CollectorSettings

DAY = datetime(2026, 3, 2, tzinfo=UTC)


def answer(metric: str, buckets: list[Bucket]) -> UsageOut:
    return UsageOut(
        metric=metric, start=DAY, end=DAY + timedelta(3), interval="day", k=5, buckets=buckets
    )


def test_a_table_adds_shown_groups_and_counts_withheld_other_buckets() -> None:
    pages = answer(
        "pages",
        [
            Bucket(
                start=DAY,
                groups=[Group(key="/a", visitors=6, pageviews=9)],
                other=Other(visitors=None, pageviews=None, suppressed=True),
            ),
            Bucket(
                start=DAY + timedelta(1),
                groups=[
                    Group(key="/a", visitors=5, pageviews=5),
                    Group(key="/b", visitors=7, pageviews=8),
                ],
                other=Other(visitors=6, pageviews=6, suppressed=False),
            ),
        ],
    )
    table = panels.table(pages, "Top pages")
    assert [(line.key, line.pageviews, line.visitors) for line in table.lines] == [
        ("/a", 14, 11),
        ("/b", 8, 7),
    ]
    assert (table.other.visitors, table.other.pageviews, table.other.withheld) == (6, 6, 1)


def test_a_withheld_bucket_stays_withheld_and_is_not_added() -> None:
    views = answer(
        "pageviews",
        [
            Bucket(
                start=DAY,
                groups=[Group(key="all", visitors=6, pageviews=9)],
                other=Other(visitors=0, pageviews=0, suppressed=False),
            ),
            Bucket(
                start=DAY + timedelta(1),
                groups=[],
                other=Other(visitors=None, pageviews=None, suppressed=True),
            ),
        ],
    )
    figures = panels.series(views)
    assert figures == {DAY: 9, DAY + timedelta(1): None}
    assert panels.total(figures) == 9
    assert panels.change(9, 0) == "new" and panels.change(15, 10) == "+50%"


def test_the_previous_period_has_the_same_length_just_before() -> None:
    q = panels.Query(date(2026, 3, 2), date(2026, 3, 8), "day")
    before = q.previous()
    assert (before.first, before.last) == (date(2026, 2, 23), date(2026, 3, 1))
    assert q.end - q.start == timedelta(days=7)


def test_csv_quotes_text_a_spreadsheet_would_run() -> None:
    pages = answer(
        "pages",
        [
            Bucket(
                start=DAY,
                groups=[Group(key="=HYPERLINK(1)", visitors=5, pageviews=5)],
                other=Other(visitors=0, pageviews=0, suppressed=False),
            )
        ],
    )
    consent = ConsentOut(start=DAY, end=DAY + timedelta(1), interval="day", k=5, buckets=[])
    group = VersionGroup(
        policy_version="=cmd|x", banner_hash="b", visitors=5, decisions=5, rates=RATES
    )
    versions = ConsentVersionsOut(
        start=DAY,
        end=DAY + timedelta(1),
        interval="day",
        k=5,
        buckets=[VersionBucket(start=DAY, groups=[group], withheld=False)],
    )
    text = panels.to_csv({}, {}, [panels.table(pages, "Top pages")], consent, versions)
    assert "'=HYPERLINK(1)" in text and "\n=HYPERLINK" not in text
    assert "'=cmd|x / b / analytics" in text and ",=cmd" not in text


RATES = {"analytics": 1.0, "marketing": 0.0, "preferences": 0.5, "refused": 0.0}


def request(status: str, deadline: datetime, due_soon: bool) -> PrivacyRequestOut:
    return PrivacyRequestOut(
        request_id="r1", type="access", status=status, created_at=DAY, updated_at=DAY,
        deadline=deadline, due_soon=due_soon, result=None,
    )  # fmt: skip


def test_overdue_and_due_soon_stand_out_only_while_open() -> None:
    now = datetime.now(UTC)
    assert casefile.urgency(request("verified", now - timedelta(1), True)) == "overdue"
    assert casefile.urgency(request("running", now + timedelta(2), True)) == "due-soon"
    assert casefile.urgency(request("done", now - timedelta(1), True)) == ""
    assert casefile.urgency(request("verified", now + timedelta(20), False)) == ""


def test_filings_name_agents_parents_and_visitors() -> None:
    def entry(seq: int, role: str, detail: dict[str, str]) -> AuditRow:
        return AuditRow(
            seq=seq, at=DAY, actor="k1", role=role, action="request.file", target="t",
            detail=orjson.dumps(detail).decode(), prev_hash="", hash="",
        )  # fmt: skip

    found = casefile.filings([
        entry(1, "privacy", {"request_id": "a", "relationship": "parent", "evidence": "file 7"}),
        entry(2, "subject", {"request_id": "b"}),
        entry(3, "privacy", {"request_id": "c"}),
    ])  # fmt: skip
    assert found["a"] == casefile.Filing("parent", "k1", "file 7")
    assert found["b"].subject_kind == "visitor (self-service)"
    assert found["c"].subject_kind == "visitor (staff-verified)"


def test_sign_in_only_returns_to_our_own_pages() -> None:
    assert _safe_next("/ui/privacy?status=verified") == "/ui/privacy?status=verified"
    for hostile in ("https://evil.example.com/", "//evil.example.com", "/ui//evil", "/ui\\x", None):
        assert _safe_next(hostile) is None


async def test_collector_docs_load_swagger_ui_from_its_own_files() -> None:
    transport = httpx.ASGITransport(app=collector_app(CollectorSettings()))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        page = await client.get("/docs")
        assert page.status_code == 200
        assert "/docs/assets/swagger-ui-bundle.js" in page.text and "cdn" not in page.text.lower()
        assert (await client.get("/docs/assets/swagger-ui.css")).status_code == 200
