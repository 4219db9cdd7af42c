"""The walking skeleton, end to end on real processes and the real stack.

Visitor A accepts analytics, visitor B declines; both browse. ClickHouse must then hold A's rows
under a pseudonym with a truncated IP, only anonymous rows for B, and no raw IP or visitor id
anywhere. An access request returns A's rows; a deletion leaves zero, and later events of A
never land.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from redis import Redis

from consentstream.identity import pseudonymize
from consentstream.settings import CommonSettings
from consentstream.storage import open_storage
from consentstream.storage.repository import Repository
from tests.isolation import isolated_env

from .processes import running_pipeline, wait_until

pytestmark = pytest.mark.e2e

A, B = "visitor_a_" + secrets.token_hex(6), "visitor_b_" + secrets.token_hex(6)
IP_A, IP_B = "203.0.113.77", "198.51.100.23"
KEY = "e2e-pseudonym-key"
UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/121.0 Safari/537.36"
)


def choices(analytics: bool) -> dict[str, bool]:
    return {"necessary": True, "analytics": analytics, "marketing": False, "preferences": False}


def pageview(visitor: str | None, path: str) -> dict[str, object]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "pageview",
        "ts": datetime.now(UTC).isoformat(),
        "visitor_id": visitor,
        "page": {"url": f"https://example.com{path}?account=42&utm_source=news", "title": path},
        "browser": {"user_agent": UA, "language": "en-US"},
    }


@pytest.fixture(scope="module")
def pipeline(stack, tmp_path_factory):
    run = isolated_env(
        "e2e",
        stack.clickhouse_url,
        worker_data_dir=tmp_path_factory.mktemp("worker"),
        pseudonym_key=KEY,
        trusted_proxies='["127.0.0.1/32"]',
        topic_partitions=2,
    )
    with running_pipeline(run.env, tmp_path_factory.mktemp("logs")) as pipe:
        storage = open_storage(run.clickhouse_url)
        pipe.repo = Repository(storage)  # type: ignore[attr-defined]
        yield pipe
        storage.close()
        run.drop_database()


def post_consent(pipe, visitor: str, analytics: bool, ip: str) -> Any:
    body = {
        "visitor_id": visitor,
        "choices": choices(analytics),
        "policy_version": "2026-01",
        "policy_hash": "e2e",
        "banner_hash": "e2e",
        "source": "banner",
    }
    r = httpx.post(f"{pipe.collector_url}/v1/consent", json=body, headers={"X-Forwarded-For": ip})
    assert r.status_code == 201, r.text
    return r.json()


def post_events(pipe, events: list[dict[str, object]], ip: str) -> Any:
    body = {"events": events, "sent_at": datetime.now(UTC).isoformat()}
    r = httpx.post(
        f"{pipe.collector_url}/v1/events",
        json=body,
        headers={"X-Forwarded-For": ip},
        timeout=10,
    )
    assert r.status_code == 202, r.text
    return r.json()


def db(repo: Repository) -> str:
    return repo.storage.database


def all_text(repo: Repository) -> str:
    """Every row of every table of the database, as text, for scanning for raw values."""
    dump: list[str] = []
    tables = [r["name"] for r in repo.storage.query(f"SHOW TABLES FROM {db(repo)}")]
    assert "usage_events" in tables and "cookie_observations" in tables
    for table in tables:
        dump.extend(str(row) for row in repo.storage.query(f"SELECT * FROM {db(repo)}.{table}"))
    return "\n".join(dump)


def redis_text(url: str) -> str:
    """Every key of the Redis the pipeline uses, names and values, as text (pipelined)."""
    client = Redis.from_url(url)
    dump: list[str] = []
    readers = {
        b"string": "get",
        b"hash": "hgetall",
        b"set": "smembers",
        b"list": "lrange",
        b"zset": "zrange",
    }
    try:
        cursor = None
        while cursor != 0:
            cursor, names = client.scan(cursor or 0, count=5000)
            pipe = client.pipeline(transaction=False)
            for name in names:
                pipe.type(name)
            kinds = pipe.execute()
            for name, kind in zip(names, kinds, strict=True):
                reader = readers.get(kind if isinstance(kind, bytes) else kind.encode(), "type")
                args = (0, -1) if reader in ("lrange", "zrange") else ()
                getattr(pipe, reader)(name, *args)
            values = pipe.execute()
            dump.extend(f"{n!r} {v!r}" for n, v in zip(names, values, strict=True))
    finally:
        client.close()
    assert dump, "Redis holds nothing: the scan proves nothing"
    return "\n".join(dump)


def file_request(pipe, key: str, kind: str, visitor: str) -> Any:
    headers = {"Authorization": f"Bearer {key}"}
    body = {"type": kind, "subject": {"visitor_id": visitor}}
    r = httpx.post(f"{pipe.api_url}/v1/privacy/requests", json=body, headers=headers)
    assert r.status_code == 202, r.text
    request_id = r.json()["request_id"]

    def finished():
        got = httpx.get(f"{pipe.api_url}/v1/privacy/requests/{request_id}", headers=headers)
        assert got.status_code == 200, got.text
        return got.json() if got.json()["status"] == "done" else None

    return wait_until(finished, timeout=90, what=f"{kind} request to finish", pipe=pipe)


def test_consented_and_declined_visitors_end_to_end(pipeline) -> None:
    key_a, key_b = pseudonymize(A, KEY), pseudonymize(B, KEY)
    receipt = post_consent(pipeline, A, True, IP_A)
    assert receipt["consent_id"] and "." in receipt["receipt"]
    post_consent(pipeline, B, False, IP_B)
    in_force = httpx.get(f"{pipeline.collector_url}/v1/consent/{A}").json()
    assert in_force["choices"]["analytics"] is True

    repo: Repository = pipeline.repo
    wait_until(
        lambda: (
            repo.count_subject(key_a).get("consent_ledger", 0) >= 1
            and repo.count_subject(key_b).get("consent_ledger", 0) >= 1
        ),
        timeout=120,
        what="the worker to record both consent decisions",
        pipe=pipeline,
    )
    answer = post_events(pipeline, [pageview(A, "/start"), pageview(A, "/billing")], IP_A)
    assert answer == {"accepted": 2, "duplicates": 0, "rejected": []}
    post_events(pipeline, [pageview(B, "/start"), pageview(B, "/outage")], IP_B)

    def stored():
        rows = repo.storage.query(f"SELECT * FROM {db(repo)}.usage_events FINAL")
        return rows if len(rows) >= 4 else None

    rows = wait_until(stored, timeout=60, what="four usage rows", pipe=pipeline)
    a_rows = [r for r in rows if r["visitor_key"] == key_a]
    anonymous = [r for r in rows if r["visitor_key"] == ""]
    assert len(a_rows) == 2 and len(anonymous) == 2
    assert {r["ip_prefix"] for r in a_rows} == {"203.0.113.0/24"}
    assert {r["ip_prefix"] for r in anonymous} == {""}
    assert all("account" not in r["page_url"] and "utm_source=news" in r["page_url"] for r in rows)
    assert {r["browser_family"] for r in rows} == {"Chrome"}
    dump = all_text(repo)
    for raw in (IP_A, IP_B, A, B):
        assert raw not in dump, f"raw value {raw} found in ClickHouse"
    in_redis = redis_text(CommonSettings().redis_url)
    assert key_a in in_redis  # the scan sees the visitor's consent state, under the pseudonym
    for raw in (IP_A, IP_B, A, B):
        assert raw not in in_redis, f"raw value {raw} found in Redis"

    privacy_key = pipeline.cli("keys", "create", "--role", "privacy")
    report = file_request(pipeline, privacy_key, "access", A)
    data = report["result"]["data"]
    assert len(data["usage_events"]) == 2
    assert {r["page_path"] for r in data["usage_events"]} == {"/start", "/billing"}

    deletion = file_request(pipeline, privacy_key, "deletion", A)
    receipt = deletion["result"]["receipt"]
    assert receipt["stores"]["clickhouse.usage_events"] == {"before": 2, "after": 0}
    assert receipt["verified_zero"] is True
    assert sum(repo.count_subject(key_a).values()) == 0
    assert repo.count_subject(key_b)["consent_ledger"] == 1

    post_events(pipeline, [pageview(A, "/after-deletion")], IP_A)
    post_events(pipeline, [pageview(B, "/marker")], IP_B)
    wait_until(
        lambda: (
            repo.storage.query(
                f"SELECT count() AS n FROM {db(repo)}.usage_events WHERE page_path = '/marker'"
            )[0]["n"]
            == 1
        ),
        what="a later event to land",
    )
    assert sum(repo.count_subject(key_a).values()) == 0
    after = repo.storage.query(
        f"SELECT count() AS n FROM {db(repo)}.usage_events WHERE page_path = '/after-deletion'"
    )
    assert after[0]["n"] == 0
