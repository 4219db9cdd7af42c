"""The storage layer against a real ClickHouse server (18.16 here) and in-process chdb.

Every test runs on both backends (the ``storage`` fixture), so each statement is proven on an
old server and a modern engine. What a user of the layer would notice: rows come back exactly
as written, replays never double-count, erasure removes one subject and nobody else, the
latest privacy request state wins, and bad input fails loudly instead of reaching SQL.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from consentstream.storage import (
    Features,
    InvalidStorageURL,
    QueryError,
    Storage,
    StorageUnavailable,
    open_storage,
    redact_url,
    sql,
)
from consentstream.storage.repository import Repository
from schemas.rows import (
    ApiKeyRow,
    ConsentAnswerRow,
    ConsentLedgerRow,
    PrivacyRequestRow,
    ProcessorDeliveryRow,
    UsageEventRow,
)
from tests.integration.storage_fixtures import (
    HOSTILE_TEXT,
    consent,
    new_key,
    privacy_request,
    stored_time,
    usage_event,
)

pytestmark = pytest.mark.integration

TABLES_SQL = "SELECT name FROM system.tables WHERE database = %(db)s ORDER BY name"


def as_stored(row: UsageEventRow | ConsentLedgerRow, store: Storage) -> dict[str, object]:
    """The row as it should read back: times in UTC at the column's precision."""
    fields = row.model_dump()
    for name in ("ts", "client_ts", "received_at", "recorded_at"):
        if name in fields:
            fields[name] = stored_time(fields[name], store)
    return fields


def test_features_follow_the_engine_version(storage: Storage) -> None:
    """18.16 gets the fallback paths; chdb 26.x gets every newer feature."""
    assert storage.features == Features.for_version(storage.server_version)
    if storage.server_version[:2] == (18, 16):
        assert storage.features == Features(False, False, False, False, False)
    if storage.url.startswith("chdb:"):
        assert storage.server_version[0] >= 26
        assert storage.features == Features(True, True, True, True, True)


def test_feature_thresholds() -> None:
    """Each feature switches on at the release that made it usable by default."""
    assert not Features.for_version((19, 1, 6)).low_cardinality
    assert Features.for_version((19, 3)).low_cardinality
    assert Features.for_version((19, 6)).ttl and not Features.for_version((19, 5)).ttl
    assert Features.for_version((20, 1)).datetime64
    assert Features.for_version((22, 2)).insert_dedup_token
    assert not Features.for_version((22, 8)).lightweight_delete
    assert Features.for_version((23, 3)).lightweight_delete


def test_table_columns_match_the_row_models() -> None:
    """Column names and order are the row models' fields, so model_dump() rows insert as-is."""
    assert sql.column_names("usage_events") == tuple(UsageEventRow.model_fields)
    assert sql.column_names("consent_ledger") == tuple(ConsentLedgerRow.model_fields)
    assert sql.column_names("privacy_requests") == tuple(PrivacyRequestRow.model_fields)
    assert sql.column_names("api_keys") == tuple(ApiKeyRow.model_fields)
    assert sql.column_names("processor_deliveries") == tuple(ProcessorDeliveryRow.model_fields)
    assert sql.column_names("consent_answers") == tuple(ConsentAnswerRow.model_fields)


def test_migrate_twice_is_idempotent_and_keeps_data(storage: Storage) -> None:
    repo = Repository(storage)
    key = new_key()
    repo.insert_consents([consent(key)])
    storage.migrate()
    storage.migrate()
    tables = [row["name"] for row in storage.query(TABLES_SQL, {"db": storage.database})]
    assert tables == sorted(sql.TABLES)
    assert repo.count_subject(key)["consent_ledger"] == 1


def test_usage_and_consent_rows_round_trip_every_field(storage: Storage) -> None:
    repo = Repository(storage)
    key = new_key()
    events = [
        usage_event(key),
        usage_event(
            key,
            type="click",
            purposes=[],
            ip_prefix="2001:db8:1234::",
            page_title=HOSTILE_TEXT,
            props=HOSTILE_TEXT,
            gpc=False,
            dnt=True,
        ),
    ]
    decision = consent(key, source=HOSTILE_TEXT)
    repo.insert_usage_events(events)
    repo.insert_consents([decision])

    got = repo.subject_rows(key)

    by_id = {row["event_id"]: row for row in got["usage_events"]}
    assert by_id == {event.event_id: as_stored(event, storage) for event in events}
    assert got["consent_ledger"] == [as_stored(decision, storage)]
    for row in got["usage_events"]:
        assert isinstance(row["event_id"], uuid.UUID)
        assert all(row[name].utcoffset() == timedelta(0) for name in ("ts", "client_ts"))
        UsageEventRow.model_validate(row)  # reads back into the row model unchanged
    ConsentLedgerRow.model_validate(got["consent_ledger"][0])


def test_hostile_text_is_stored_inert_and_usable_as_a_parameter(storage: Storage) -> None:
    repo = Repository(storage)
    repo.insert_consents([consent(HOSTILE_TEXT, policy_version=HOSTILE_TEXT)])

    rows = repo.subject_rows(HOSTILE_TEXT)["consent_ledger"]

    assert [(row["visitor_key"], row["policy_version"]) for row in rows] == [
        (HOSTILE_TEXT, HOSTILE_TEXT)
    ]
    assert repo.count_subject(HOSTILE_TEXT + "x") == {"usage_events": 0, "consent_ledger": 0}
    assert len(storage.query(TABLES_SQL, {"db": storage.database})) == len(sql.TABLES)


def test_replayed_events_read_back_once(storage: Storage) -> None:
    """Overlapping and repeated batches (a Kafka replay) leave one row per event_id."""
    repo = Repository(storage)
    key = new_key()
    first, second, third = (usage_event(key) for _ in range(3))
    repo.insert_usage_events([first, second], dedup_token="batch-1")
    repo.insert_usage_events([first, second], dedup_token="batch-1")
    repo.insert_usage_events([second, third])
    repo.insert_usage_events([first])

    assert len(repo.subject_rows(key)["usage_events"]) == 3
    assert repo.count_subject(key)["usage_events"] == 3
    repo.compact("usage_events")
    assert repo.count_rows("usage_events", visible=False) == 3


def test_delete_subject_removes_only_that_subject(storage: Storage) -> None:
    repo = Repository(storage)
    erased, kept = new_key(), new_key()
    repo.insert_usage_events([usage_event(erased), usage_event(erased), usage_event(kept)])
    repo.insert_consents([consent(erased), consent(kept)])

    removed = repo.delete_subject(erased)

    assert removed == {"usage_events": 2, "consent_ledger": 1}
    assert repo.count_subject(erased) == {"usage_events": 0, "consent_ledger": 0}
    assert repo.subject_rows(erased) == {"usage_events": [], "consent_ledger": []}
    assert repo.count_subject(kept) == {"usage_events": 1, "consent_ledger": 1}
    repo.compact("usage_events")
    assert repo.count_rows("usage_events", visible=False) == 1


def test_delete_without_waiting_finishes_later(storage: Storage) -> None:
    repo = Repository(storage)
    key = new_key()
    repo.insert_usage_events([usage_event(key)])

    assert repo.delete_subject(key, wait=False) == {"usage_events": 1, "consent_ledger": 0}
    for table in ("usage_events", "consent_ledger"):
        repo.wait_for_mutations(table)
    assert repo.count_subject(key) == {"usage_events": 0, "consent_ledger": 0}


def test_latest_privacy_request_version_wins(storage: Storage) -> None:
    repo = Repository(storage)
    request_id = f"req-{uuid.uuid4().hex}"
    for version, status in ((1, "pending_verification"), (3, "done"), (2, "running")):
        repo.save_privacy_request(privacy_request(request_id, version, status))

    latest = repo.get_privacy_request(request_id)

    assert latest is not None
    assert (latest.version, latest.status) == (3, "done")
    assert latest.deadline == privacy_request(request_id, 3, "done").deadline
    assert repo.get_privacy_request("req-never-filed") is None


def test_five_thousand_rows_insert_as_one_block(storage: Storage) -> None:
    repo = Repository(storage)
    repo.insert_usage_events([usage_event(new_key()) for _ in range(5000)])
    assert repo.count_rows("usage_events") == 5000


async def test_concurrent_calls_from_threads(storage: Storage) -> None:
    """Async callers offload to threads; the pool (server) or lock (chdb) keeps them apart."""
    repo = Repository(storage)
    key = new_key()
    repo.insert_consents([consent(key)])
    counts = await asyncio.gather(*(asyncio.to_thread(repo.count_subject, key) for _ in range(12)))
    assert all(count["consent_ledger"] == 1 for count in counts)


def test_unknown_tables_and_columns_never_reach_sql(storage: Storage) -> None:
    row = consent(new_key()).model_dump()
    with pytest.raises(QueryError, match="unknown table"):
        storage.insert("users; DROP TABLE consent_ledger", [row])
    with pytest.raises(QueryError, match="unknown"):
        storage.insert("consent_ledger", [row | {"extra": 1}])
    with pytest.raises(QueryError, match="cannot bind"):
        storage.query("SELECT %(x)s AS x", {"x": object()})


def test_database_errors_are_translated(storage: Storage) -> None:
    with pytest.raises(QueryError):
        storage.query("SELECT no_such_column FROM system.one")


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://192.0.2.10/consentstream",
        "clickhouse://127.0.0.1:9000/bad-name;DROP",
        "clickhouse://127.0.0.1:9000/db?unknown=1",
        "clickhouse:///db",
    ],
)
def test_bad_urls_fail_clearly(url: str) -> None:
    with pytest.raises(InvalidStorageURL):
        open_storage(url)


def test_unreachable_server_is_unavailable_and_password_is_not_leaked() -> None:
    with pytest.raises(StorageUnavailable) as caught:
        open_storage("clickhouse://reader:s3cret@127.0.0.1:1/consentstream")
    assert "s3cret" not in str(caught.value)
    assert redact_url("clickhouse://reader:s3cret@127.0.0.1:1/db") == (
        "clickhouse://reader:***@127.0.0.1:1/db"
    )


def test_api_keys_are_found_by_hash_and_revocation_wins(storage: Storage) -> None:
    from consentstream.keys import hash_key, new_key

    repo = Repository(storage)
    plaintext, row = new_key("privacy")
    repo.save_api_key(row)
    found = repo.get_api_key(hash_key(plaintext))
    assert found is not None and found.role == "privacy" and not found.revoked
    assert plaintext not in str(storage.query(f"SELECT * FROM {storage.database}.api_keys"))
    assert repo.revoke_api_key(row.key_id) is True
    revoked = repo.get_api_key(hash_key(plaintext))
    assert revoked is not None and revoked.revoked
    assert repo.revoke_api_key("00000000") is False
    assert repo.get_api_key(hash_key("cs_unknown")) is None
