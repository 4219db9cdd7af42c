"""Closed usage buckets are answered ahead of any ask (services/api/warmer.py), on ClickHouse."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from consentstream.storage import Storage, sql
from consentstream.storage.repository import Repository
from services.api import answers, top, warmer
from services.api.buckets import stored_params
from services.api.usage import fold

from .api_harness import Api, start_api
from .test_api_usage import event, visitors

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)
DAY = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)


def done_buckets(repo: Repository, interval: str, dimension: str) -> set[datetime]:
    rows = repo.storage.query(
        f"SELECT bucket FROM {repo.storage.database}.usage_answers FINAL"
        " WHERE row_kind = 'done' AND bucket_size = %(i)s AND dimension = %(d)s",
        {"i": interval, "d": dimension},
    )
    return {row["bucket"].astimezone(UTC) for row in rows}


def test_warming_stores_every_closed_bucket_once_and_asks_then_read_them(
    storage: Storage,
) -> None:
    repo = Repository(storage)
    repo.insert_usage_events([event(v, "/warm", DAY) for v in visitors("w", 6)])
    stored = warmer.warm(repo, 5, NOW, days=2)
    hours = done_buckets(repo, "hour", "page")
    assert min(hours) == datetime(2026, 3, 8, 12, tzinfo=UTC)
    assert max(hours) == datetime(2026, 3, 10, 11, tzinfo=UTC)
    assert len(hours) == 48
    assert done_buckets(repo, "day", "referrer") == {
        datetime(2026, 3, 8, tzinfo=UTC),
        datetime(2026, 3, 9, tzinfo=UTC),
    }
    assert done_buckets(repo, "week", "all") == {datetime(2026, 3, 2, tzinfo=UTC)}
    # 48 hours + 2 days + 1 week, for each dimension
    assert stored == (48 + 2 + 1) * len(sql.USAGE_DIMENSIONS)
    assert warmer.warm(repo, 5, NOW, days=2) == 0

    # a later ask reads the stored answer: a straggler inserted now does not change it
    repo.insert_usage_events([event(v, "/late", DAY) for v in visitors("x", 5)])
    span = (datetime(2026, 3, 9, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC))
    rows = answers.rows_for(repo, "page", "day", span, 5, NOW)
    (bucket,) = fold(rows, 5)
    assert [(g.key, g.visitors) for g in bucket.groups] == [("/warm", 6)]


@pytest.fixture(scope="module")
def warming_api(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from start_api(
        stack,
        tmp_path_factory,
        worker=False,
        usage_warm_seconds="0.5",
        usage_warm_days="1",
        usage_settle_minutes="0",
    )


def test_the_api_warms_in_the_background(warming_api: Api) -> None:
    repo = warming_api.repo
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not done_buckets(repo, "day", "page"):
        time.sleep(0.2)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert done_buckets(repo, "day", "page") == {today - timedelta(days=1)}
    assert len(done_buckets(repo, "hour", "browser")) == 24


def test_buckets_answered_before_leads_were_kept_get_them_from_the_warmer(
    storage: Storage,
) -> None:
    repo = Repository(storage)
    repo.insert_usage_events([event(v, "/led", DAY) for v in visitors("l", 6)])
    span = (datetime(2026, 3, 9, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC))
    answers.closed_rows(repo, "page", "day", span, 5)
    storage.command(f"TRUNCATE TABLE {storage.database}.{sql.USAGE_LEADS}")  # an older store
    params = stored_params("page", "day", span, 5)
    assert repo.done_buckets(sql.USAGE_LEADS, params) == set()
    assert warmer.warm(repo, 5, NOW, days=2) > 0  # every other bucket and dimension
    assert repo.done_buckets(sql.USAGE_LEADS, params) == {span[0]}
    chosen = top.stored_top(repo, "page", "day", span, 5, 1) or []
    assert [(r["key"], r["visitors"]) for r in chosen if r["shown"]] == [("/led", 6)]
