"""Every statement the storage layer runs besides DDL, and the only functions that fill templates.

Templates hold two kinds of holes: ``{db}`` / ``{table}`` are filled only by :func:`statement`
from a validated database name and the fixed table allowlist; values are ``%(name)s``
placeholders escaped at execution time. Nothing from a request is ever formatted into SQL.
"""

from __future__ import annotations

from typing import Final

from consentstream.storage.sql.tables import (
    AUDIT_LOG,
    CONSENT_LEDGER,
    LEGAL_HOLDS,
    PRIVACY_REQUESTS,
    PROCESSOR_DELIVERIES,
    SUBJECT_TABLES,
    USAGE_EVENTS,
    check_table,
    column_names,
    local_table,
    quote_identifier,
)

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
# What an erasure keeps about a subject, per kept table (tables.KEPT_TABLES): distinct
# records, as the receipt counts them (a request's versions are one request).
KEPT_COUNTS: Final[dict[str, str]] = {
    PRIVACY_REQUESTS: "SELECT uniqExact(request_id) AS n FROM {db}.privacy_requests"
    " WHERE subject_key = %(subject_key)s",
    AUDIT_LOG: "SELECT count() AS n FROM {db}.audit_log WHERE target = %(subject_key)s",
    LEGAL_HOLDS: "SELECT count() AS n FROM {db}.legal_holds FINAL"
    " WHERE subject_key = %(subject_key)s",
    PROCESSOR_DELIVERIES: "SELECT uniqExact(delivery_id) AS n FROM {db}.processor_deliveries"
    " WHERE subject_key = %(subject_key)s",
}
SUBJECT_CONSENT_IDS: Final = (
    "SELECT DISTINCT consent_id FROM {db}.consent_ledger WHERE visitor_key = %(visitor_key)s"
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
    PROCESSOR_DELIVERIES: "created_at",
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
# The console's views read only what they show, so a page costs the same on a long log.
AUDIT_COUNT: Final = "SELECT count() AS n FROM {db}.audit_log"
AUDIT_OF_ACTION: Final = "SELECT * FROM {db}.audit_log WHERE action = %(action)s ORDER BY seq"
# visitParam* (not JSONExtract*: ClickHouse 18.16 lacks it) reads the compact JSON the audit
# writes; the caller still checks the decoded detail, so a nested namesake cannot slip in.
AUDIT_OF_REQUEST: Final = (
    "SELECT * FROM {db}.audit_log"
    " WHERE visitParamExtractString(detail, 'request_id') = %(request_id)s ORDER BY seq"
)

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
# One read of the range, without FINAL (which merges every part on the fly and cost four times
# the read itself): views are counted as distinct event ids per bucket, group and visitor, so
# a replayed event (same id) still counts once; one replayed after the visitor's consent
# changed (so with another visitor key) counts under both keys, where FINAL kept the later.
# Each group then carries its visitors with their views, is marked shown when it has k
# identified ones, and the rows are regrouped into the shown groups and the one folded
# "other" row, whose visitors are counted distinct again.
USAGE_GROUPS: Final = (
    "SELECT bucket, shown, if(shown = 1, group_key, '') AS key,"
    " uniqExactIf(visit.1, visit.1 != '') AS visitors, sum(visit.2) AS pageviews FROM ("
    " SELECT b AS bucket, group_key, countIf(vk != '') >= %(k)s AS shown,"
    " groupArray((vk, views)) AS visits FROM ("
    " SELECT {bucket} AS b, {dimension} AS group_key, visitor_key AS vk,"
    " uniqExact(event_id) AS views FROM {db}.usage_events WHERE type = 'pageview'"
    " AND ts >= toDateTime(%(start)s, 'UTC') AND ts < toDateTime(%(end)s, 'UTC')"
    " GROUP BY b, group_key, vk"
    ") GROUP BY bucket, group_key"
    ") ARRAY JOIN visits AS visit GROUP BY bucket, shown, key"
    " ORDER BY bucket, shown DESC, pageviews DESC, key"
)
# Stored answers are read without FINAL (a plain read and a small GROUP BY cost half as much
# on big answers): a row stored twice, by two processes answering the same bucket, is taken
# from the later, as a merge would keep it. Buckets come as epoch seconds, which the reader
# turns into times once per bucket instead of once per row.
USAGE_ANSWERS_CACHED: Final = (
    "SELECT toUInt32(toDateTime(bucket)) AS epoch, row_kind, key,"
    " argMax(visitors, computed_at) AS visitors, argMax(pageviews, computed_at) AS pageviews"
    " FROM {db}.usage_answers"
    " WHERE bucket_size = %(interval)s AND dimension = %(dimension)s AND k = %(k)s"
    " AND bucket >= toDateTime(%(start)s, 'UTC') AND bucket < toDateTime(%(end)s, 'UTC')"
    " GROUP BY epoch, row_kind, key"
)
CONSENT_ANSWERS_CACHED: Final = (
    "SELECT toUInt32(toDateTime(bucket)) AS epoch, row_kind, version, banner,"
    " argMax(visitors, computed_at) AS visitors, argMax(decisions, computed_at) AS decisions,"
    " argMax(analytics, computed_at) AS analytics, argMax(marketing, computed_at) AS marketing,"
    " argMax(preferences, computed_at) AS preferences, argMax(refused, computed_at) AS refused"
    " FROM {db}.consent_answers"
    " WHERE bucket_size = %(interval)s AND panel = %(panel)s"
    " AND bucket >= toDateTime(%(start)s, 'UTC') AND bucket < toDateTime(%(end)s, 'UTC')"
    " GROUP BY epoch, row_kind, version, banner"
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

# Deletions sent to processors. The latest state of each (request, processor) is picked with
# argMax over versions rather than FINAL plus a filter on status: an engine that moves such a
# filter before the FINAL merge would otherwise answer a superseded state.
_DELIVERY_STATES: Final = (
    "SELECT request_id, processor, argMax(status, version) AS latest_status,"
    " argMax(next_attempt_at, version) AS due_at"
    " FROM {db}.processor_deliveries GROUP BY request_id, processor"
)
DELIVERIES_DUE: Final = (
    f"SELECT request_id, processor FROM ({_DELIVERY_STATES})"
    " WHERE latest_status = 'pending' AND due_at <= toDateTime(%(now)s, 'UTC')"
    " ORDER BY due_at LIMIT %(limit)s"
)
DELIVERIES_UNCONFIRMED: Final = (
    f"SELECT DISTINCT request_id FROM ({_DELIVERY_STATES})"
    " WHERE latest_status != 'confirmed' ORDER BY request_id LIMIT %(limit)s"
)
DELIVERIES_OF_REQUEST: Final = (
    "SELECT * FROM {db}.processor_deliveries FINAL WHERE request_id = %(request_id)s"
    " ORDER BY processor, version DESC LIMIT 1 BY processor"
)

COUNT_ROWS_STORED: Final = "SELECT count() AS n FROM {db}.{table}"
COUNT_ROWS_VISIBLE: Final = "SELECT count() AS n FROM {db}.{table} FINAL"
# No ON CLUSTER: 18.16 fails forwarding it to a non-leader replica ("Unknown log entry type"),
# so cluster mode sends this to every replica by itself.
OPTIMIZE_FINAL: Final = "OPTIMIZE TABLE {db}.{local} FINAL"


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
