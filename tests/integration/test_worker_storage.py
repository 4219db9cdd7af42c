"""The worker's storage needs, on both backends (ClickHouse 18.16 and chdb).

A usage_events table from before ``anon_hash`` gains the column when the worker starts
(``Storage.migrate`` only creates missing tables, so without this a worker of this release
would fail every insert against a database created by the previous one), and the cookie
report aggregates observations so that replayed batches change nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from consentstream.storage import Storage, sql
from consentstream.storage.repository import Repository
from schemas.rows import CookieObservationRow
from tests.integration.storage_fixtures import (
    stored_time,
    usage_event,
)

pytestmark = pytest.mark.integration


def _recreate_without(storage: Storage, column: str) -> None:
    features = storage.features
    ddl = sql.create_table(
        storage.database,
        sql.USAGE_EVENTS,
        low_cardinality=features.low_cardinality,
        datetime64=features.datetime64,
        dedup_window=features.insert_dedup_token,
        ttl_days=None,
    )
    old = ddl.replace(f",\n    `{column}` String", "")
    assert old != ddl
    storage.command(f"DROP TABLE {storage.database}.{sql.USAGE_EVENTS}")
    storage.command(old)


def test_old_usage_table_gains_anon_hash_and_accepts_rows(storage: Storage) -> None:
    _recreate_without(storage, "anon_hash")
    repo = Repository(storage)
    assert repo.add_missing_columns(sql.USAGE_EVENTS) == ["anon_hash"]
    assert repo.add_missing_columns(sql.USAGE_EVENTS) == []
    repo.insert_usage_events([usage_event("", anon_hash="0123456789abcdef")])
    rows = storage.query(f"SELECT anon_hash FROM {storage.database}.{sql.USAGE_EVENTS}")
    assert rows == [{"anon_hash": "0123456789abcdef"}]


def test_current_tables_need_nothing(storage: Storage) -> None:
    assert Repository(storage).add_missing_columns(sql.USAGE_EVENTS) == []


def observation(name: str, at: datetime, before: bool, **extra: object) -> CookieObservationRow:
    fields: dict[str, object] = {
        "page_path": "/pricing",
        "cookie_name": name,
        "declared_category": "analytics",
        "reported_category": "analytics",
        "known": True,
        "first_seen": at,
        "last_seen": at,
        "seen_before_consent": before,
        **extra,
    }
    return CookieObservationRow.model_validate(fields)


def test_cookie_report_aggregates_per_page_and_cookie(storage: Storage) -> None:
    assert sql.column_names(sql.COOKIE_OBSERVATIONS) == tuple(CookieObservationRow.model_fields)
    repo = Repository(storage)
    t0 = datetime(2026, 3, 2, 9, 0, 0, 250000, tzinfo=UTC)
    batches = [
        [observation("_ga", t0, True), observation("session", t0, False)],
        [observation("_ga", t0 + timedelta(hours=2), False)],
        [observation("mystery", t0, True, declared_category="unknown", known=False)],
    ]
    for batch in batches + batches[:2]:  # the first two replayed after a crash
        repo.insert_cookie_observations(batch)
    report = {row.cookie_name: row for row in repo.cookie_report()}
    assert sorted(report) == ["_ga", "mystery", "session"]
    ga = report["_ga"]
    assert ga.first_seen == stored_time(t0, storage)
    assert ga.last_seen == stored_time(t0 + timedelta(hours=2), storage)
    assert ga.seen_before_consent and ga.known
    assert not report["session"].seen_before_consent
    assert not report["mystery"].known and report["mystery"].declared_category == "unknown"
