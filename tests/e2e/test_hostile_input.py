"""Hostile input end to end: clear client errors, inert storage, clean logs.

The collector, worker and API run as processes on the real stack; what a client can send
never yields a 5xx, SQL-looking text is stored verbatim, spoofed forwarding headers are
ignored, unknown origins get no CORS grant, and no log line carries a raw IP, a visitor id
or a secret.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from consentstream.identity import pseudonymize
from consentstream.storage import open_storage
from tests.isolation import isolated_env

from .processes import Pipeline, running_pipeline, wait_until

pytestmark = pytest.mark.e2e

KEY = "hostile-pseudonym-key-" + secrets.token_hex(4)
RECEIPT_KEY = "hostile-receipt-key-" + secrets.token_hex(4)
VISITOR = "hostile_visitor_" + secrets.token_hex(6)  # a v1 body id: ignored, never stored
MINTED: dict[str, str] = {}  # the id the collector minted into the cookie, for the log scan
CLIENT_IP = "198.51.100.77"
SPOOFED_IP = "203.0.113.99"
INJECTION = "x'); DROP TABLE usage_events; --\\' \" %(visitor_key)s {db} `t` ☃"


@pytest.fixture(scope="module")
def pipeline(stack, tmp_path_factory) -> Any:
    logs = Path(tmp_path_factory.mktemp("logs"))
    run = isolated_env(
        "hostile",
        stack.clickhouse_url,
        worker_data_dir=tmp_path_factory.mktemp("worker"),
        pseudonym_key=KEY,
        receipt_key=RECEIPT_KEY,
        trusted_proxies='["127.0.0.1/32"]',
        topic_partitions=1,
        log_level="DEBUG",
    )
    with running_pipeline(run.env, logs) as pipe:
        pipe.env_logs = logs  # type: ignore[attr-defined]
        yield pipe
        run.drop_database()


def event(**extra: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "pageview",
        "ts": datetime.now(UTC).isoformat(),
        **extra,
    }


def post_raw(pipe: Pipeline, body: bytes, content_type: str = "application/json") -> httpx.Response:
    return httpx.post(
        f"{pipe.collector_url}/v1/events",
        content=body,
        headers={"Content-Type": content_type},
        timeout=10,
    )


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"events": [{"event_id": "\xff\xfe"}]}', 400),  # malformed UTF-8
        (b"[" * 5000 + b"]" * 5000, 400),  # nesting past any sane depth
        (b'{"events": [' + b'{"a":' * 300 + b"1" + b"}" * 300 + b"]}", 422),
        (b"\x00\x01\x02", 400),
        (b"", 400),
        (b'"just a string"', 422),  # JSON, but neither a batch nor an event
    ],
)
def test_malformed_bodies_are_client_errors(pipeline: Pipeline, body: bytes, status: int) -> None:
    r = post_raw(pipeline, body)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] and r.json()["error"]["message"]


def test_wrong_types_and_huge_strings_name_the_field(pipeline: Pipeline) -> None:
    batch = {
        "events": [
            event(ts=12345),
            event(ts="1899-12-31T23:00:00Z"),
            event(event_id=42),
            event(cookies="_ga"),
            event(page={"url": "https://example.com/" + "a" * 5000}),
            event(browser={"user_agent": "U" * 100_000}),
            event(props={"nested": {"deep": 1}}),
        ]
    }
    r = httpx.post(f"{pipeline.collector_url}/v1/events", json=batch, timeout=10)
    assert r.status_code == 422, r.text
    errors = {item["index"]: item["error"] for item in r.json()["error"]["rejected"]}
    assert set(errors) == set(range(7))
    fields = ["ts", "ts", "event_id", "cookies", "page.url", "user_agent", "props"]
    for index, field in enumerate(fields):
        assert field in errors[index], errors[index]


def test_a_body_of_megabytes_is_413(pipeline: Pipeline) -> None:
    huge = b'{"events": [{"x": "' + b"a" * (3 * 1024 * 1024) + b'"}]}'
    assert post_raw(pipeline, huge).status_code == 413


def test_visitor_id_cannot_inject_headers(pipeline: Pipeline) -> None:
    body = {
        "visitor_id": "abc\r\nSet-Cookie: admin=1",
        "choices": {"necessary": True, "analytics": True, "marketing": False, "preferences": False},
        "policy_version": "2026-01",
        "policy_hash": "h",
    }
    r = httpx.post(f"{pipeline.collector_url}/v1/consent", json=body, timeout=10)
    assert r.status_code == 422
    assert "admin" not in r.headers.get("set-cookie", "")


def test_unknown_origins_get_no_cors_grant(pipeline: Pipeline) -> None:
    preflight = {
        "Origin": "https://attacker.example.com",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    r = httpx.options(f"{pipeline.collector_url}/v1/events", headers=preflight, timeout=10)
    assert "access-control-allow-origin" not in r.headers
    allowed = {**preflight, "Origin": "http://127.0.0.1:8080"}
    r = httpx.options(f"{pipeline.collector_url}/v1/events", headers=allowed, timeout=10)
    assert r.headers.get("access-control-allow-origin") == "http://127.0.0.1:8080"


def test_injection_text_is_stored_inert_and_spoofed_ips_ignored(pipeline: Pipeline) -> None:
    consent = {
        "visitor_id": VISITOR,
        "choices": {"necessary": True, "analytics": True, "marketing": False, "preferences": False},
        "policy_version": "2026-01",
        "policy_hash": "h",
    }
    r = httpx.post(f"{pipeline.collector_url}/v1/consent", json=consent, timeout=10)
    assert r.status_code == 201
    visitor = MINTED["visitor"] = r.cookies["cs_vid"]
    key = pseudonymize(visitor, KEY)
    with open_storage(pipeline.env["CONSENTSTREAM_CLICKHOUSE_URL"]) as storage:
        db = storage.database
        wait_until(
            lambda: storage.query(
                f"SELECT count() AS n FROM {db}.consent_ledger WHERE visitor_key = %(k)s",
                {"k": key},
            )[0]["n"],
            pipe=pipeline,
            what="the consent to be recorded",
        )
        hostile = event(
            visitor_id=VISITOR,
            page={"url": "https://example.com/search", "title": INJECTION},
            props={"q": INJECTION[:200]},
        )
        r = httpx.post(
            f"{pipeline.collector_url}/v1/events",
            json={"events": [hostile]},
            # the client claims SPOOFED_IP; our proxy (127.0.0.1) appended the real CLIENT_IP
            headers={
                "X-Forwarded-For": f"{SPOOFED_IP}, {CLIENT_IP}",
                "Cookie": f"cs_vid={visitor}",
            },
            timeout=10,
        )
        assert r.status_code == 202, r.text
        rows = wait_until(
            lambda: storage.query(
                f"SELECT page_title, props, ip_prefix, visitor_key FROM {db}.usage_events FINAL"
                " WHERE event_id = %(id)s",
                {"id": uuid.UUID(hostile["event_id"])},
            ),
            pipe=pipeline,
            what="the hostile event to be stored",
        )
        assert rows[0]["page_title"] == INJECTION
        assert orjson.loads(rows[0]["props"]) == {"q": INJECTION[:200]}
        assert rows[0]["ip_prefix"] == "198.51.100.0/24"
        assert rows[0]["visitor_key"] == key, "the cookie's visitor, not the body's"
        tables = storage.query("SELECT name FROM system.tables WHERE database = %(d)s", {"d": db})
        assert "usage_events" in {t["name"] for t in tables}


def test_logs_carry_no_raw_identifier_or_secret(pipeline: Pipeline) -> None:
    """Runs last in this module: scans everything the three processes logged."""
    key = pipeline.cli("keys", "create", "--role", "privacy")
    r = httpx.post(
        f"{pipeline.api_url}/v1/privacy/requests",
        json={"type": "access", "subject": {"visitor_id": MINTED.get("visitor", VISITOR)}},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert r.status_code == 202, r.text
    bad = httpx.get(
        f"{pipeline.api_url}/v1/privacy/requests/{r.json()['request_id']}",
        headers={"Authorization": "Bearer cs_wrong_" + key[-12:]},
        timeout=10,
    )
    assert bad.status_code == 401
    logs = "\n".join(p.read_text(errors="replace") for p in pipeline.env_logs.glob("*.log"))  # type: ignore[attr-defined]
    assert len(logs) > 1000, "the processes logged almost nothing: the scan proves little"
    for secret in (VISITOR, *MINTED.values(), CLIENT_IP, SPOOFED_IP, KEY, RECEIPT_KEY, key):
        assert secret not in logs, f"{secret[:12]}… found in the logs"
