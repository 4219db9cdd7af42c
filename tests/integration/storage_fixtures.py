"""Row factories and backends for the storage integration tests (the fixtures are in conftest).

Each test gets a storage on both backends with a database of its own (``cs_test_<random>``),
migrated before and dropped after. The server comes from ``CONSENTSTREAM_CLICKHOUSE_URL``;
if it cannot be reached the test fails (never skips). All data is synthetic: documentation
IP ranges and example.com only.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from consentstream.storage import Storage, StorageUnavailable, open_storage
from schemas.rows import ConsentLedgerRow, PrivacyRequestRow, UsageEventRow

DEFAULT_SERVER_URL = "clickhouse://127.0.0.1:9000/consentstream"
BACKENDS = ("server", "chdb")

# Text that must be stored and read back verbatim, never interpreted.
HOSTILE_TEXT = (
    "Robert'); DROP TABLE usage_events; -- \\' \" \\\\ %(visitor_key)s %s {db} `x`"
    " \n\t\r\0 ünïcödé ✓ 日本語 🍪"
)
CEST = timezone(timedelta(hours=2))


def server_url(database: str) -> str:
    """The configured server URL with its database replaced by ``database``."""
    parts = urlsplit(os.environ.get("CONSENTSTREAM_CLICKHOUSE_URL", DEFAULT_SERVER_URL))
    return urlunsplit(parts._replace(path=f"/{database}"))


def open_backend(backend: str, database: str, chdb_path: str) -> Storage:
    """Open the named backend on a fresh database; a missing server fails the test."""
    if backend == "server":
        try:
            return open_storage(server_url(database))
        except StorageUnavailable as exc:
            pytest.fail(f"ClickHouse server not reachable (start it or set the URL): {exc}")
    return open_storage(f"chdb://{chdb_path}?database={database}")


def stored_time(value: datetime, store: Storage) -> datetime:
    """What a datetime reads back as: UTC, at the column's precision (ms, or s on 18.16)."""
    value = value.astimezone(UTC)
    if store.features.datetime64:
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    return value.replace(microsecond=0)


def usage_event(visitor_key: str, **overrides: Any) -> UsageEventRow:
    """A complete, minimized usage event with every field set to something non-default."""
    ts = datetime(2024, 5, 17, 9, 30, 15, 123456, tzinfo=CEST)
    fields: dict[str, Any] = {
        "event_id": uuid.uuid4(),
        "type": "pageview",
        "ts": ts,
        "client_ts": ts - timedelta(seconds=2),
        "received_at": ts + timedelta(milliseconds=250),
        "visitor_key": visitor_key,
        "consent_id": f"consent-{uuid.uuid4().hex[:8]}",
        "purposes": ["necessary", "analytics"],
        "policy_version": "2024-05",
        "ip_prefix": "192.0.2.0",
        "page_path": "/pricing",
        "page_url": "https://www.example.com/pricing?utm_source=newsletter",
        "page_title": "Pricing — Example “Utility” Co.",
        "referrer_host": "search.example.com",
        "browser_family": "Firefox",
        "browser_version": "126",
        "os_family": "Linux",
        "device_class": "desktop",
        "language": "de-DE",
        "screen": "1920x1080",
        "timezone": "Europe/Berlin",
        "props": '{"plan": "basic", "quote": "it\'s"}',
        "gpc": True,
        "dnt": False,
    }
    fields.update(overrides)
    return UsageEventRow(**fields)


def consent(visitor_key: str, **overrides: Any) -> ConsentLedgerRow:
    """A consent decision with GPC applied, so booleans differ from each other."""
    fields: dict[str, Any] = {
        "consent_id": f"consent-{uuid.uuid4().hex}",
        "visitor_key": visitor_key,
        "recorded_at": datetime(2024, 5, 17, 7, 0, 1, 987654, tzinfo=UTC),
        "necessary": True,
        "analytics": True,
        "marketing": False,
        "preferences": False,
        "policy_version": "2024-05",
        "policy_hash": "sha256:" + "ab" * 32,
        "banner_hash": "sha256:" + "cd" * 32,
        "source": "banner",
        "gpc": True,
        "dnt": False,
        "gpc_applied": True,
    }
    fields.update(overrides)
    return ConsentLedgerRow(**fields)


def privacy_request(request_id: str, version: int, status: str) -> PrivacyRequestRow:
    """One state of a deletion request."""
    created = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    return PrivacyRequestRow(
        request_id=request_id,
        type="deletion",
        subject_key=f"subject-{request_id}",
        status=status,
        created_at=created,
        updated_at=created + timedelta(minutes=version),
        deadline=created + timedelta(days=30),
        result='{"usage_events": 2}' if status == "done" else "",
        version=version,
    )


def new_key() -> str:
    """A fresh pseudonymous visitor key (looks like the HMAC the pipeline makes)."""
    return uuid.uuid4().hex * 2
