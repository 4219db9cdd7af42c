"""Every SQL statement the storage layer runs, and the table schemas they rest on.

Kept in one module so a reviewer can read all SQL at once. Templates hold two kinds of holes:
``{db}`` / ``{table}`` are filled only by :func:`statement` from a validated database name and
the fixed table allowlist; values are ``%(name)s`` placeholders escaped at execution time.
Nothing from a request is ever formatted into SQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

# Column kinds, mapped to ClickHouse types by _column_type (new type where the engine has it).
UUID, TIME, STR, LOW, LOW_ARRAY, BOOL, U16, U64 = (
    "uuid",
    "time",
    "str",
    "low",
    "low_array",
    "bool",
    "u16",
    "u64",
)

USAGE_EVENTS: Final = "usage_events"
CONSENT_LEDGER: Final = "consent_ledger"
PRIVACY_REQUESTS: Final = "privacy_requests"
API_KEYS: Final = "api_keys"
AUDIT_LOG: Final = "audit_log"
LEGAL_HOLDS: Final = "legal_holds"
USAGE_ANSWERS: Final = "usage_answers"
COOKIE_OBSERVATIONS: Final = "cookie_observations"

# Column order and names equal the fields of schemas.rows (a unit test keeps them in step).
COLUMNS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    USAGE_EVENTS: (
        ("event_id", UUID),
        ("type", LOW),
        ("ts", TIME),
        ("client_ts", TIME),
        ("received_at", TIME),
        ("visitor_key", STR),
        ("consent_id", STR),
        ("purposes", LOW_ARRAY),
        ("policy_version", LOW),
        ("ip_prefix", STR),
        ("page_path", STR),
        ("page_url", STR),
        ("page_title", STR),
        ("referrer_host", STR),
        ("browser_family", LOW),
        ("browser_version", LOW),
        ("os_family", LOW),
        ("device_class", LOW),
        ("language", LOW),
        ("screen", LOW),
        ("timezone", LOW),
        ("props", STR),
        ("gpc", BOOL),
        ("dnt", BOOL),
        ("schema_version", U16),
        ("anon_hash", STR),  # added after v1: last, so ALTER TABLE ADD COLUMN keeps the order
    ),
    CONSENT_LEDGER: (
        ("consent_id", STR),
        ("visitor_key", STR),
        ("recorded_at", TIME),
        ("necessary", BOOL),
        ("analytics", BOOL),
        ("marketing", BOOL),
        ("preferences", BOOL),
        ("policy_version", LOW),
        ("policy_hash", LOW),
        ("banner_hash", LOW),
        ("source", LOW),
        ("gpc", BOOL),
        ("dnt", BOOL),
        ("gpc_applied", BOOL),
        ("schema_version", U16),
    ),
    PRIVACY_REQUESTS: (
        ("request_id", STR),
        ("type", LOW),
        ("subject_key", STR),
        ("status", LOW),
        ("created_at", TIME),
        ("updated_at", TIME),
        ("deadline", TIME),
        ("result", STR),
        ("version", U64),
        ("schema_version", U16),
    ),
    API_KEYS: (
        ("key_hash", STR),
        ("key_id", STR),
        ("role", LOW),
        ("created_at", TIME),
        ("revoked", BOOL),
        ("version", U64),
        ("schema_version", U16),
    ),
    AUDIT_LOG: (
        ("seq", U64),
        ("at", TIME),
        ("actor", STR),
        ("role", LOW),
        ("action", LOW),
        ("target", STR),
        ("detail", STR),
        ("prev_hash", STR),
        ("hash", STR),
        ("schema_version", U16),
    ),
    LEGAL_HOLDS: (
        ("subject_key", STR),
        ("held", BOOL),
        ("reason", STR),
        ("actor", STR),
        ("at", TIME),
        ("version", U64),
        ("schema_version", U16),
    ),
    USAGE_ANSWERS: (
        ("bucket_size", LOW),
        ("dimension", LOW),
        ("k", U16),
        ("bucket", TIME),
        ("row_kind", LOW),
        ("key", STR),
        ("visitors", U64),
        ("pageviews", U64),
        ("computed_at", TIME),
        ("schema_version", U16),
    ),
    COOKIE_OBSERVATIONS: (
        ("page_path", STR),
        ("cookie_name", STR),
        ("declared_category", LOW),
        ("reported_category", LOW),
        ("known", BOOL),
        ("first_seen", TIME),
        ("last_seen", TIME),
        ("seen_before_consent", BOOL),
        ("schema_version", U16),
    ),
}
TABLES: Final = tuple(COLUMNS)

# Tables holding a data subject's rows, keyed by visitor_key, with their reading order.
SUBJECT_TABLES: Final[dict[str, str]] = {
    USAGE_EVENTS: "ts, event_id",
    CONSENT_LEDGER: "recorded_at, consent_id",
}

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
    # One row per page, cookie and worker batch; readers aggregate (min, max, max), which a
    # replayed batch cannot change, so replays need no deduplication here.
    COOKIE_OBSERVATIONS: (
        "MergeTree PARTITION BY toYYYYMM(last_seen) ORDER BY (page_path, cookie_name, last_seen)"
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
    COOKIE_OBSERVATIONS: "cityHash64(page_path, cookie_name)",
}
_ENGINE_CLAUSE: Final = re.compile(r"^(\w*MergeTree)(?:\(([^)]*)\))?(.*)$", re.DOTALL)
_USAGE_TTL: Final = "TTL toDateTime(ts) + INTERVAL {days} DAY"
# Lets insert_deduplication_token work on non-replicated tables (off by default there).
_DEDUP_WINDOW: Final = "SETTINGS non_replicated_deduplication_window = 1000"

CREATE_DATABASE: Final = "CREATE DATABASE IF NOT EXISTS {db}{on_cluster}"
DROP_DATABASE: Final = "DROP DATABASE IF EXISTS {db}{on_cluster}"
SERVER_VERSION: Final = "SELECT version() AS version"
SET_UTC: Final = "SET session_timezone = 'UTC'"

INSERT_VALUES: Final = "INSERT INTO {db}.{table} ({columns}) VALUES"
INSERT_STREAM: Final = "INSERT INTO {db}.{table} ({columns})"
INSERT_TOKEN_SETTING: Final = " SETTINGS insert_deduplication_token = %(token)s"

SUBJECT_ROWS: Final = (
    "SELECT * FROM {db}.{table} FINAL WHERE visitor_key = %(visitor_key)s ORDER BY {order}"
)
COUNT_SUBJECT: Final = (
    "SELECT count() AS n FROM {db}.{table} FINAL WHERE visitor_key = %(visitor_key)s"
)
# Deletes and OPTIMIZE address {local}: the table itself on one node, and in cluster mode the
# replicated table, sent to one replica per shard (storage.replicas says why not ON CLUSTER).
DELETE_SUBJECT_MUTATION: Final = (
    "ALTER TABLE {db}.{local} DELETE WHERE visitor_key = %(visitor_key)s"
)
DELETE_SUBJECT_LIGHTWEIGHT: Final = "DELETE FROM {db}.{local} WHERE visitor_key = %(visitor_key)s"
# Retention: each table's age column; {time} is filled only from this map.
RETENTION_COLUMNS: Final[dict[str, str]] = {
    USAGE_EVENTS: "ts",
    CONSENT_LEDGER: "recorded_at",
    PRIVACY_REQUESTS: "created_at",
}
COUNT_OLDER: Final = (
    "SELECT count() AS n FROM {db}.{table} WHERE {time} < toDateTime(%(cutoff)s, 'UTC')"
)
COUNT_OLDER_LOCAL: Final = (
    "SELECT count() AS n FROM {db}.{local} WHERE {time} < toDateTime(%(cutoff)s, 'UTC')"
)
DELETE_OLDER_MUTATION: Final = (
    "ALTER TABLE {db}.{local} DELETE WHERE {time} < toDateTime(%(cutoff)s, 'UTC')"
)
DELETE_OLDER_LIGHTWEIGHT: Final = (
    "DELETE FROM {db}.{local} WHERE {time} < toDateTime(%(cutoff)s, 'UTC')"
)
# Cluster mode: the nodes to ask one by one (18.16 has no clusterAllReplicas), and a
# subject's rows as each replica holds them.
CLUSTER_REPLICAS: Final = (
    "SELECT shard_num, replica_num, host_address, port FROM system.clusters"
    " WHERE cluster = %(cluster)s ORDER BY shard_num, replica_num"
)
SYNC_REPLICA: Final = "SYSTEM SYNC REPLICA {db}.{local}"
REPLICA_IS_LEADER: Final = (
    "SELECT is_leader FROM system.replicas WHERE database = %(database)s AND table = %(table)s"
)
COUNT_SUBJECT_LOCAL: Final = (
    "SELECT count() AS n FROM {db}.{local} FINAL WHERE visitor_key = %(visitor_key)s"
)
PENDING_MUTATIONS: Final = (
    "SELECT count() AS n FROM system.mutations"
    " WHERE database = %(database)s AND table = %(table)s AND is_done = 0"
)

PRIVACY_REQUEST_LATEST: Final = (
    "SELECT * FROM {db}.privacy_requests FINAL WHERE request_id = %(request_id)s"
    " ORDER BY version DESC LIMIT 1"
)

API_KEY_BY_HASH: Final = (
    "SELECT * FROM {db}.api_keys FINAL WHERE key_hash = %(key_hash)s ORDER BY version DESC LIMIT 1"
)
API_KEY_BY_ID: Final = (
    "SELECT * FROM {db}.api_keys FINAL WHERE key_id = %(key_id)s ORDER BY version DESC"
)

TABLE_COLUMNS: Final = (
    "SELECT name FROM system.columns WHERE database = %(database)s AND table = %(table)s"
)

API_KEYS_ALL: Final = "SELECT * FROM {db}.api_keys FINAL ORDER BY created_at, key_id"

PRIVACY_REQUESTS_ALL: Final = (
    "SELECT * FROM {db}.privacy_requests FINAL ORDER BY created_at DESC LIMIT %(limit)s"
)
PRIVACY_REQUESTS_OF_SUBJECT: Final = (
    "SELECT * FROM {db}.privacy_requests FINAL WHERE subject_key = %(subject_key)s"
    " ORDER BY created_at"
)

AUDIT_LAST: Final = "SELECT seq, hash FROM {db}.audit_log ORDER BY seq DESC LIMIT 1"
AUDIT_ALL: Final = "SELECT * FROM {db}.audit_log ORDER BY seq"

LEGAL_HOLD_LATEST: Final = (
    "SELECT * FROM {db}.legal_holds FINAL WHERE subject_key = %(subject_key)s"
    " ORDER BY version DESC LIMIT 1"
)

# Marketing aggregates. {bucket} and {dimension} come only from the fixed maps
# below via usage_statement(); a group reaches the answer only with >= %(k)s distinct
# identified visitors, the rest is folded into one "other" row per bucket (key '', shown 0).
# Anonymous rows (visitor_key '') count as page views but never as a visitor.
USAGE_BUCKETS: Final[dict[str, str]] = {
    "hour": "toStartOfHour({time})",
    "day": "toStartOfDay({time})",
    "week": "toDateTime(toMonday({time}), 'UTC')",
}
# A campaign tag from the stored page_url, whose query holds only the allowlisted utm_* pairs
# (form-encoded by the worker: '+' is a space, so it is turned back before the %-decoding).
USAGE_UTM: Final = (
    "if(extractURLParameter(page_url, '{name}') = '', '(none)',"
    " decodeURLComponent(replaceAll(extractURLParameter(page_url, '{name}'), '+', ' ')))"
)
USAGE_DIMENSIONS: Final[dict[str, str]] = {
    "all": "'all'",
    "page": "page_path",
    "referrer": "if(referrer_host = '', '(direct)', referrer_host)",
    "browser": "if(browser_family = '', '(unknown)', browser_family)",
    "device": "if(device_class = '', '(unknown)', device_class)",
    "os": "if(os_family = '', '(unknown)', os_family)",
    "utm_source": USAGE_UTM.replace("{name}", "utm_source"),
    "utm_medium": USAGE_UTM.replace("{name}", "utm_medium"),
    "utm_campaign": USAGE_UTM.replace("{name}", "utm_campaign"),
}
_IDENTIFIED_VISITORS = "(uniqExact(visitor_key) - max(visitor_key = ''))"
_PAGEVIEWS_IN_RANGE = (
    "FROM {db}.usage_events FINAL WHERE type = 'pageview'"
    " AND ts >= toDateTime(%(start)s, 'UTC') AND ts < toDateTime(%(end)s, 'UTC')"
)
USAGE_GROUPS: Final = (
    "SELECT {bucket} AS bucket,"
    " if(({bucket}, {dimension}) IN (SELECT b, g FROM ("
    f"SELECT {{bucket}} AS b, {{dimension}} AS g, {_IDENTIFIED_VISITORS} AS v"
    f" {_PAGEVIEWS_IN_RANGE} GROUP BY b, g) WHERE v >= %(k)s), 1, 0) AS shown,"
    " if(shown = 1, {dimension}, '') AS key,"
    f" {_IDENTIFIED_VISITORS} AS visitors, count() AS pageviews"
    f" {_PAGEVIEWS_IN_RANGE} GROUP BY bucket, shown, key"
    " ORDER BY bucket, shown DESC, pageviews DESC, key"
)
USAGE_ANSWERS_CACHED: Final = (
    "SELECT bucket, row_kind, key, visitors, pageviews FROM {db}.usage_answers FINAL"
    " WHERE bucket_size = %(interval)s AND dimension = %(dimension)s AND k = %(k)s"
    " AND bucket >= toDateTime(%(start)s, 'UTC') AND bucket < toDateTime(%(end)s, 'UTC')"
)
# Rebuilding the worker's Redis consent state from the ledger, a page of visitors at a time.
LEDGER_VISITORS_AFTER: Final = (
    "SELECT DISTINCT visitor_key FROM {db}.consent_ledger"
    " WHERE visitor_key > %(after)s ORDER BY visitor_key LIMIT %(limit)s"
)
LEDGER_DECISIONS_OF: Final = (
    "SELECT consent_id, visitor_key, recorded_at, analytics, marketing, preferences,"
    " policy_version, gpc_applied FROM {db}.consent_ledger FINAL"
    " WHERE visitor_key IN %(keys)s ORDER BY visitor_key, recorded_at, consent_id"
)
# An anonymous decision (a refusal of analytics: no visitor key) counts as one decider of its
# own, so refusals weigh in the rates and in k instead of folding into one '' visitor. The
# per-row facts are named in a subquery: an outer alias equal to a column (``analytics``) would
# be substituted into another aggregate (ILLEGAL_AGGREGATION).
USAGE_CONSENT: Final = (
    "SELECT {consent_bucket} AS bucket, uniqExact(decider) AS visitors, count() AS decisions,"
    " sum(analytics) AS analytics, sum(marketing) AS marketing, sum(preferences) AS preferences,"
    " sum(refusal) AS refused FROM ("
    " SELECT recorded_at, analytics, marketing, preferences,"
    " if(visitor_key = '', consent_id, visitor_key) AS decider,"
    " analytics + marketing + preferences = 0 AS refusal"
    " FROM {db}.consent_ledger FINAL"
    " WHERE recorded_at >= toDateTime(%(start)s, 'UTC')"
    " AND recorded_at < toDateTime(%(end)s, 'UTC')"
    ") GROUP BY bucket ORDER BY bucket"
)

# Inner aliases differ from column names: an alias equal to a column would be substituted
# into the other aggregates (ILLEGAL_AGGREGATION).
COOKIE_REPORT: Final = (
    "SELECT page_path, cookie_name, declared AS declared_category,"
    " reported AS reported_category, is_known AS known, earliest AS first_seen,"
    " latest AS last_seen, flagged AS seen_before_consent FROM ("
    " SELECT page_path, cookie_name, argMax(declared_category, last_seen) AS declared,"
    " argMax(reported_category, last_seen) AS reported, max(known) AS is_known,"
    " min(first_seen) AS earliest, max(last_seen) AS latest,"
    " max(seen_before_consent) AS flagged"
    " FROM {db}.cookie_observations GROUP BY page_path, cookie_name"
    ") ORDER BY page_path, cookie_name"
)

# Consent per policy version and banner (so a banner change can be compared), counted the way
# USAGE_CONSENT counts; the caller withholds every group of fewer than k deciders.
USAGE_CONSENT_VERSIONS: Final = (
    "SELECT {consent_bucket} AS bucket, policy_version AS version, banner_hash AS banner,"
    " uniqExact(decider) AS visitors, count() AS decisions,"
    " sum(analytics) AS analytics, sum(marketing) AS marketing, sum(preferences) AS preferences,"
    " sum(refusal) AS refused FROM ("
    " SELECT recorded_at, policy_version, banner_hash, analytics, marketing, preferences,"
    " if(visitor_key = '', consent_id, visitor_key) AS decider,"
    " analytics + marketing + preferences = 0 AS refusal"
    " FROM {db}.consent_ledger FINAL"
    " WHERE recorded_at >= toDateTime(%(start)s, 'UTC')"
    " AND recorded_at < toDateTime(%(end)s, 'UTC')"
    ") GROUP BY bucket, version, banner ORDER BY bucket, version, banner"
)

COUNT_ROWS_STORED: Final = "SELECT count() AS n FROM {db}.{table}"
COUNT_ROWS_VISIBLE: Final = "SELECT count() AS n FROM {db}.{table} FINAL"
# No ON CLUSTER: 18.16 fails forwarding it to a non-leader replica ("Unknown log entry type"),
# so cluster mode sends this to every replica by itself.
OPTIMIZE_FINAL: Final = "OPTIMIZE TABLE {db}.{local} FINAL"

LOCAL_SUFFIX: Final = "_local"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def quote_identifier(name: str) -> str:
    """Backquote a database/table/column name after checking it is a plain identifier."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return f"`{name}`"


def check_table(table: str) -> str:
    """Return ``table`` if it is one of ours; refuse anything else before it nears SQL."""
    if table not in COLUMNS:
        raise ValueError(f"unknown table {table!r}; expected one of {', '.join(TABLES)}")
    return table


def column_names(table: str) -> tuple[str, ...]:
    """The table's column names, in insert order."""
    return tuple(name for name, _ in COLUMNS[check_table(table)])


def local_table(table: str, cluster: str | None) -> str:
    """The table holding the rows: ``table`` itself, or ``table_local`` behind a Distributed one."""
    return f"{check_table(table)}{LOCAL_SUFFIX}" if cluster else check_table(table)


def statement(
    template: str, database: str, table: str | None = None, cluster: str | None = None
) -> str:
    """Fill a template's ``{db}``/``{table}``/``{local}``/``{on_cluster}``/``{columns}``/
    ``{order}`` holes safely; ``cluster`` (a cluster name) makes DDL run on every node."""
    on_cluster = f" ON CLUSTER {quote_identifier(cluster)}" if cluster else ""
    sql = template.replace("{db}", quote_identifier(database)).replace("{on_cluster}", on_cluster)
    if table is not None:
        check_table(table)
        columns = ", ".join(quote_identifier(name) for name in column_names(table))
        sql = sql.replace("{table}", quote_identifier(table)).replace("{columns}", columns)
        sql = sql.replace("{local}", quote_identifier(local_table(table, cluster)))
        sql = sql.replace("{order}", SUBJECT_TABLES.get(table, ""))
    return sql


def retention_statement(
    template: str, database: str, table: str, cluster: str | None = None
) -> str:
    """Fill a retention template for one table with its age column from the fixed map."""
    if table not in RETENTION_COLUMNS:
        raise ValueError(f"no retention column for {table!r}")
    return statement(template.replace("{time}", RETENTION_COLUMNS[table]), database, table, cluster)


def usage_statement(template: str, database: str, interval: str, dimension: str = "all") -> str:
    """Fill a usage aggregate template with a bucket and dimension from the fixed maps."""
    if interval not in USAGE_BUCKETS or dimension not in USAGE_DIMENSIONS:
        raise ValueError(f"unknown interval {interval!r} or dimension {dimension!r}")
    bucket = USAGE_BUCKETS[interval]
    sql = (
        template.replace("{bucket}", bucket.replace("{time}", "ts"))
        .replace("{consent_bucket}", bucket.replace("{time}", "recorded_at"))
        .replace("{dimension}", USAGE_DIMENSIONS[dimension])
    )
    return statement(sql, database)


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
