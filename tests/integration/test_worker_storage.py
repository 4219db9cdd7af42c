"""A usage_events table from before ``anon_hash`` gains the column when the worker starts.

``Storage.migrate`` only creates missing tables, so without this step a worker of this
release would fail every insert against a database created by the previous one.
"""

from __future__ import annotations

import pytest

from consentstream.storage import Storage, sql
from consentstream.storage.repository import Repository
from tests.integration.storage_fixtures import (
    chdb_path_fixture,  # noqa: F401  (fixture)
    storage_fixture,  # noqa: F401  (fixture)
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
