"""Our tables and their columns, and the checks that keep any other name out of SQL."""

from __future__ import annotations

import re
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
PROCESSOR_DELIVERIES: Final = "processor_deliveries"
CONSENT_ANSWERS: Final = "consent_answers"
USAGE_LEADS: Final = "usage_leads"

# Column order and names equal the fields of schemas.rows (a unit test keeps them in step).
_ANSWER_COLUMNS: Final = (
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
)
"""A stored answer's rows: the answers themselves, and per bucket its leads (below)."""

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
    USAGE_ANSWERS: _ANSWER_COLUMNS,
    # Per stored bucket of a group dimension: its biggest groups ("lead"), the largest group
    # left out ("edge"), the sum of its shown groups ("shown"), its "other", a "done" marker.
    USAGE_LEADS: _ANSWER_COLUMNS,
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
    PROCESSOR_DELIVERIES: (
        ("request_id", STR),
        ("processor", LOW),
        ("delivery_id", STR),
        ("subject_key", STR),
        ("status", LOW),
        ("attempts", U16),
        ("last_error", STR),
        ("processor_ref", STR),
        ("created_at", TIME),
        ("updated_at", TIME),
        ("next_attempt_at", TIME),
        ("confirm_by", TIME),
        ("version", U64),
        ("schema_version", U16),
    ),
    CONSENT_ANSWERS: (
        ("bucket_size", LOW),
        ("panel", LOW),
        ("bucket", TIME),
        ("row_kind", LOW),
        ("version", STR),
        ("banner", STR),
        ("visitors", U64),
        ("decisions", U64),
        ("analytics", U64),
        ("marketing", U64),
        ("preferences", U64),
        ("refused", U64),
        ("computed_at", TIME),
        ("schema_version", U16),
    ),
}
TABLES: Final = tuple(COLUMNS)

# Tables holding a data subject's rows, keyed by visitor_key, with their reading order.
SUBJECT_TABLES: Final[dict[str, str]] = {
    USAGE_EVENTS: "ts, event_id",
    CONSENT_LEDGER: "recorded_at, consent_id",
}

# Tables keeping records about a subject through an erasure (the receipt says why), with the
# column naming the subject. A table with a subject column is in one of these two maps.
KEPT_TABLES: Final[dict[str, str]] = {
    PRIVACY_REQUESTS: "subject_key",
    AUDIT_LOG: "target",
    LEGAL_HOLDS: "subject_key",
    PROCESSOR_DELIVERIES: "subject_key",
}
SUBJECT_COLUMNS: Final = ("visitor_key", "subject_key")
"""Column names that hold a subject's pseudonym (a unit test checks every table against them)."""

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
