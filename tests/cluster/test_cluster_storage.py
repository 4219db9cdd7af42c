"""The storage tests again, on a 2 shards x 2 replicas ClickHouse 18.16 cluster.

The tests are the single-node ones (imported, so they cannot drift apart); the ``storage``
fixture of this folder serves them a cluster-mode storage. Two are left out because they
list the database's tables, which here are twice as many (``x_local`` behind each ``x``);
``test_migrate_builds_a_distributed_table_over_each_replicated_one`` covers that. Below them,
what only a cluster has:
rows spread over shards by subject, copies on both replicas, erasure confirmed on every replica.
"""

from __future__ import annotations

import pytest

from consentstream.storage import Storage, sql
from consentstream.storage.repository import Repository
from tests.integration.storage_fixtures import consent, new_key, usage_event
from tests.integration.test_consent_answers import (
    test_stored_consent_figures_equal_the_live_ones_and_stay_put,
)
from tests.integration.test_storage import (
    test_api_keys_are_found_by_hash_and_revocation_wins,
    test_concurrent_calls_from_threads,
    test_database_errors_are_translated,
    test_delete_subject_removes_only_that_subject,
    test_delete_without_waiting_finishes_later,
    test_five_thousand_rows_insert_as_one_block,
    test_latest_privacy_request_version_wins,
    test_replayed_events_read_back_once,
    test_unknown_tables_and_columns_never_reach_sql,
    test_usage_and_consent_rows_round_trip_every_field,
)
from tests.integration.test_worker_storage import test_cookie_report_aggregates_per_page_and_cookie

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

__all__ = [
    "test_api_keys_are_found_by_hash_and_revocation_wins",
    "test_concurrent_calls_from_threads",
    "test_cookie_report_aggregates_per_page_and_cookie",
    "test_database_errors_are_translated",
    "test_delete_subject_removes_only_that_subject",
    "test_delete_without_waiting_finishes_later",
    "test_five_thousand_rows_insert_as_one_block",
    "test_latest_privacy_request_version_wins",
    "test_replayed_events_read_back_once",
    "test_stored_consent_figures_equal_the_live_ones_and_stay_put",
    "test_unknown_tables_and_columns_never_reach_sql",
    "test_usage_and_consent_rows_round_trip_every_field",
]

LOCAL_ROWS = "SELECT count() AS n FROM {db}.{local}"


def local_counts(store: Storage, table: str) -> list[tuple[int, int]]:
    """(shard, rows) as each replica stores them, asked one by one."""
    statement = sql.statement(LOCAL_ROWS, store.database, table, store.cluster)
    answers = store.on_every_replica(statement)
    return [(a.shard, int(a.rows[0]["n"])) for a in answers if a.rows is not None]


def test_subjects_spread_over_shards_and_each_shard_keeps_two_copies(storage: Storage) -> None:
    """Both shards hold data, both replicas of a shard hold the same rows, and one subject's
    rows all sit on one shard (so erasure and access touch one shard)."""
    repo = Repository(storage)
    subject = new_key()
    rows = [usage_event(new_key()) for _ in range(60)] + [usage_event(subject) for _ in range(5)]
    repo.insert_usage_events(rows)
    storage.on_every_replica(sql.statement(sql.SYNC_REPLICA, storage.database, "usage_events", "c"))
    counts = local_counts(storage, sql.USAGE_EVENTS)
    assert len(counts) == 4
    by_shard: dict[int, set[int]] = {}
    for shard, n in counts:
        by_shard.setdefault(shard, set()).add(n)
    assert all(len(copies) == 1 for copies in by_shard.values())  # replicas agree
    assert all(copies.pop() > 0 for copies in by_shard.values())  # both shards used
    assert sum(n for shard, n in counts) == 2 * 65
    holders = [
        answer.shard
        for answer in storage.on_every_replica(
            sql.statement(sql.COUNT_SUBJECT_LOCAL, storage.database, sql.USAGE_EVENTS, "c"),
            {"visitor_key": subject},
        )
        if answer.rows and answer.rows[0]["n"]
    ]
    assert len(holders) == 2 and len(set(holders)) == 1


def test_erasure_is_confirmed_by_every_replica(storage: Storage) -> None:
    """After delete_subject no replica of any shard holds the subject, others keep theirs."""
    repo = Repository(storage)
    subject, other = new_key(), new_key()
    repo.insert_usage_events([usage_event(subject) for _ in range(3)] + [usage_event(other)])
    repo.insert_consents([consent(subject), consent(other)])
    assert repo.count_subject(subject) == {"usage_events": 3, "consent_ledger": 1}
    assert repo.delete_subject(subject) == {"usage_events": 3, "consent_ledger": 1}
    for table in sql.SUBJECT_TABLES:
        statement = sql.statement(sql.COUNT_SUBJECT_LOCAL, storage.database, table, "c")
        answers = storage.on_every_replica(statement, {"visitor_key": subject})
        assert [a.rows[0]["n"] if a.rows else None for a in answers] == [0, 0, 0, 0]
    assert repo.count_subject(subject) == {"usage_events": 0, "consent_ledger": 0}
    assert repo.count_subject(other) == {"usage_events": 1, "consent_ledger": 1}


def test_migrate_builds_a_distributed_table_over_each_replicated_one(storage: Storage) -> None:
    """Every table is a Distributed table over a Replicated* local table; migrating again
    changes nothing and keeps the rows."""
    engines = {
        row["name"]: row["engine"]
        for row in storage.query(
            "SELECT name, engine FROM system.tables WHERE database = %(db)s",
            {"db": storage.database},
        )
    }
    for table in sql.TABLES:
        assert engines[table] == "Distributed"
        assert engines[f"{table}_local"].startswith("Replicated")
    Repository(storage).insert_usage_events([usage_event(new_key())])
    storage.migrate()
    assert Repository(storage).count_rows("usage_events") == 1
