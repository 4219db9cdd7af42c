"""Table DDL: engines, cluster sharding and replication, for the engine at hand."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from consentstream.storage.sql.queries import CREATE_DATABASE, statement
from consentstream.storage.sql.tables import (
    API_KEYS,
    AUDIT_LOG,
    BOOL,
    COLUMNS,
    CONSENT_ANSWERS,
    CONSENT_LEDGER,
    COOKIE_OBSERVATIONS,
    LEGAL_HOLDS,
    LOW,
    LOW_ARRAY,
    PRIVACY_REQUESTS,
    PROCESSOR_DELIVERIES,
    STR,
    TABLES,
    TIME,
    U16,
    U64,
    USAGE_ANSWERS,
    USAGE_EVENTS,
    USAGE_LEADS,
    UUID,
    check_table,
    local_table,
    quote_identifier,
)

# usage_events: one partition per month (cheap retention by DROP PARTITION on 18.16); the
# sorting key serves the marketing aggregates (date range, then event type) and ends with
# event_id, so a replayed event (same ts, type, id) collapses into one row on merge.
_ENGINES: Final[dict[str, str]] = {
    USAGE_EVENTS: (
        "ReplacingMergeTree PARTITION BY toYYYYMM(ts) ORDER BY (toDate(ts), type, event_id)"
    ),
    CONSENT_LEDGER: "ReplacingMergeTree ORDER BY consent_id",
    PRIVACY_REQUESTS: "ReplacingMergeTree(version) ORDER BY request_id",
    API_KEYS: "ReplacingMergeTree(version) ORDER BY key_hash",
    # Append-only: a plain MergeTree keeps every row, so a re-inserted entry shows as a
    # duplicate seq instead of silently replacing the original.
    AUDIT_LOG: "MergeTree ORDER BY seq",
    LEGAL_HOLDS: "ReplacingMergeTree(version) ORDER BY subject_key",
    # k-anonymous answers for closed buckets (no visitor keys): computed once, then read.
    USAGE_ANSWERS: (
        "ReplacingMergeTree ORDER BY (bucket_size, dimension, k, bucket, row_kind, key)"
    ),
    # A top-N answer's inputs, a few rows per stored bucket (services.api.leads), read by bucket.
    USAGE_LEADS: ("ReplacingMergeTree ORDER BY (bucket_size, dimension, k, bucket, row_kind, key)"),
    # One row per page, cookie and worker batch; readers aggregate (min, max, max), which a
    # replayed batch cannot change, so replays need no deduplication here.
    COOKIE_OBSERVATIONS: (
        "MergeTree PARTITION BY toYYYYMM(last_seen) ORDER BY (page_path, cookie_name, last_seen)"
    ),
    # One row per state change of a deletion sent to a processor; the latest version wins.
    PROCESSOR_DELIVERIES: "ReplacingMergeTree(version) ORDER BY (request_id, processor)",
    # Consent panels' figures for closed buckets (counts only, no visitor keys): computed once.
    CONSENT_ANSWERS: (
        "ReplacingMergeTree ORDER BY (bucket_size, panel, bucket, row_kind, version, banner)"
    ),
}
# Cluster mode: the shard of a row. Rows that ReplacingMergeTree must collapse share a shard
# (same sorting key, same shard), and a subject's rows all live on one shard: erasure and
# access touch one shard. Anonymous events (no visitor_key) spread by event id instead of
# piling onto the shard of the empty key.
SHARDING_KEYS: Final[dict[str, str]] = {
    USAGE_EVENTS: "cityHash64(if(visitor_key = '', toString(event_id), visitor_key))",
    CONSENT_LEDGER: "cityHash64(if(visitor_key = '', consent_id, visitor_key))",
    PRIVACY_REQUESTS: "cityHash64(request_id)",
    API_KEYS: "cityHash64(key_hash)",
    AUDIT_LOG: "seq",
    LEGAL_HOLDS: "cityHash64(subject_key)",
    USAGE_ANSWERS: "cityHash64(bucket_size, dimension, k, row_kind, key)",
    USAGE_LEADS: "cityHash64(bucket_size, dimension, k, bucket)",
    COOKIE_OBSERVATIONS: "cityHash64(page_path, cookie_name)",
    PROCESSOR_DELIVERIES: "cityHash64(request_id)",
    CONSENT_ANSWERS: "cityHash64(bucket_size, panel, row_kind, version, banner)",
}
_ENGINE_CLAUSE: Final = re.compile(r"^(\w*MergeTree)(?:\(([^)]*)\))?(.*)$", re.DOTALL)
_USAGE_TTL: Final = "TTL toDateTime(ts) + INTERVAL {days} DAY"
# Lets insert_deduplication_token work on non-replicated tables (off by default there).
_DEDUP_WINDOW: Final = "SETTINGS non_replicated_deduplication_window = 1000"


def _column_type(kind: str, low_cardinality: bool, datetime64: bool) -> str:
    string = "LowCardinality(String)" if low_cardinality else "String"
    return {
        UUID: "UUID",
        TIME: "DateTime64(3, 'UTC')" if datetime64 else "DateTime('UTC')",
        STR: "String",
        LOW: string,
        LOW_ARRAY: f"Array({string})",
        BOOL: "UInt8",
        U16: "UInt16",
        U64: "UInt64",
    }[kind]


def create_table(
    database: str,
    table: str,
    *,
    low_cardinality: bool,
    datetime64: bool,
    dedup_window: bool,
    ttl_days: int | None,
    cluster: str | None = None,
) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for one table, using only the features the engine has.

    With ``cluster`` this is the replicated table on every node (``table_local``); the
    Distributed table in front of it comes from :func:`create_distributed`.
    """
    columns = ",\n    ".join(
        f"{quote_identifier(name)} {_column_type(kind, low_cardinality, datetime64)}"
        for name, kind in COLUMNS[check_table(table)]
    )
    engine = _ENGINES[table]
    clauses = [replicated_engine(engine, database, table) if cluster else engine]
    if table == USAGE_EVENTS and ttl_days is not None:
        clauses.append(_USAGE_TTL.format(days=int(ttl_days)))
    if dedup_window and not cluster:  # replicated tables deduplicate inserted blocks anyway
        clauses.append(_DEDUP_WINDOW)
    head = statement(
        "CREATE TABLE IF NOT EXISTS {db}.{local}{on_cluster}", database, table, cluster
    )
    return f"{head} (\n    {columns}\n) ENGINE = " + " ".join(clauses)


def replicated_engine(engine: str, database: str, table: str) -> str:
    """The Replicated* twin of a MergeTree engine clause, its ZooKeeper path per shard.

    ``{shard}`` and ``{replica}`` are each server's macros; the path names the database and
    table so test databases never share a replication log.
    """
    match = _ENGINE_CLAUSE.match(engine)
    if match is None:
        raise ValueError(f"not a MergeTree engine clause: {engine!r}")
    name, arguments, rest = match.groups()
    path = f"'/clickhouse/tables/{{shard}}/{quote_identifier(database)[1:-1]}/{table}'"
    extra = f", {arguments}" if arguments else ""
    return f"Replicated{name}({path}, '{{replica}}'{extra}){rest}"


def create_distributed(database: str, table: str, cluster: str) -> str:
    """The Distributed table every read and insert uses, sharded by :data:`SHARDING_KEYS`."""
    head = statement(
        "CREATE TABLE IF NOT EXISTS {db}.{table}{on_cluster} AS {db}.{local}",
        database,
        table,
        cluster,
    )
    local = quote_identifier(local_table(table, cluster))
    args = f"{quote_identifier(cluster)}, {quote_identifier(database)}, {local}"
    return f"{head} ENGINE = Distributed({args}, {SHARDING_KEYS[table]})"


def schema_statements(
    database: str,
    *,
    low_cardinality: bool,
    datetime64: bool,
    ttl_days: int | None,
    dedup_window: bool,
    cluster: str | None = None,
) -> Iterator[str]:
    """The idempotent statements that bring a database up to the current schema."""
    yield statement(CREATE_DATABASE, database, cluster=cluster)
    for table in TABLES:
        yield create_table(
            database,
            table,
            low_cardinality=low_cardinality,
            datetime64=datetime64,
            dedup_window=dedup_window,
            ttl_days=ttl_days,
            cluster=cluster,
        )
        if cluster:
            yield create_distributed(database, table, cluster)


def add_column(
    database: str,
    table: str,
    name: str,
    *,
    low_cardinality: bool,
    datetime64: bool,
    cluster: str | None = None,
) -> list[str]:
    """``ALTER TABLE ... ADD COLUMN`` for a column of ours that an older table lacks.

    18.16 has no ``ADD COLUMN IF NOT EXISTS``: callers check ``system.columns`` first. In
    cluster mode the replicated tables change first, then the Distributed tables over them.
    """
    kinds = dict(COLUMNS[check_table(table)])
    column = f"{quote_identifier(name)} {_column_type(kinds[name], low_cardinality, datetime64)}"
    targets = ["{local}", "{table}"] if cluster else ["{table}"]
    return [
        statement(f"ALTER TABLE {{db}}.{target}{{on_cluster}} ADD COLUMN", database, table, cluster)
        + f" {column}"
        for target in targets
    ]
