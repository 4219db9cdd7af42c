"""The walking skeleton, end to end on real processes and the real stack.

Visitor A accepts analytics (the collector mints A's id into its cookie), visitor B declines
(naming an id of its own in the body, which the collector ignores); both browse. ClickHouse must
then hold A's rows under a pseudonym with a truncated IP, only anonymous rows for B, and no raw
IP or visitor id anywhere: not in ClickHouse, not in Redis, and in no Kafka topic of the run
(every one read back with kafka-python). An access request returns A's rows; a deletion leaves
zero, destroys A's data key so every copy of A's messages in Kafka is unreadable, A's cookie is
dead afterwards (cleared, later events anonymous) and nothing lands under A again.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from redis import Redis

from consentstream.identity import pseudonymize
from consentstream.sealing import read_envelope
from consentstream.settings import CommonSettings
from consentstream.storage import open_storage
from consentstream.storage.repository import Repository
from consentstream.topics import Topics
from tests.isolation import isolated_env
from tests.sealed import opened

from .kafka_scan import kafka_dump
from .processes import running_pipeline, wait_until

pytestmark = pytest.mark.e2e

B = "visitor_b_" + secrets.token_hex(6)
IP_A, IP_B = "203.0.113.77", "198.51.100.23"
KEY = "e2e-pseudonym-key"
E2E_REDIS_DB = 7
UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/121.0 Safari/537.36"
)


def choices(analytics: bool) -> dict[str, bool]:
    return {"necessary": True, "analytics": analytics, "marketing": False, "preferences": False}


def pageview(path: str, body_id: str | None = None) -> dict[str, object]:
    """A pageview; ``body_id`` a v1 body visitor_id (the collector ignores it)."""
    return {
        "event_id": str(uuid.uuid4()),
        "type": "pageview",
        "ts": datetime.now(UTC).isoformat(),
        "visitor_id": body_id,
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
        # A Redis database of its own: the scan for raw values below reads every key of the
        # pipeline's Redis, and the shared database holds whatever other suites and benches
        # left (millions of keys after a benchmark).
        redis_url=urlunsplit(urlsplit(stack.redis_url)._replace(path=f"/{E2E_REDIS_DB}")),
    )
    with running_pipeline(run.env, tmp_path_factory.mktemp("logs")) as pipe:
        storage = open_storage(run.clickhouse_url)
        pipe.repo = Repository(storage)  # type: ignore[attr-defined]
        yield pipe
        storage.close()
        run.drop_database()


def post_consent(pipe, analytics: bool, ip: str, body_id: str | None = None) -> httpx.Response:
    body = {
        "visitor_id": body_id,
        "choices": choices(analytics),
        "policy_version": "2026-01",
        "policy_hash": "e2e",
        "banner_hash": "e2e",
        "source": "banner",
    }
    r = httpx.post(f"{pipe.collector_url}/v1/consent", json=body, headers={"X-Forwarded-For": ip})
    assert r.status_code == 201, r.text
    return r


def post_events(
    pipe, events: list[dict[str, object]], ip: str, visitor: str | None = None
) -> httpx.Response:
    """POST events from ``ip``, from a browser holding ``visitor``'s cookie when given."""
    body = {"events": events, "sent_at": datetime.now(UTC).isoformat()}
    headers = {"X-Forwarded-For": ip} | ({"Cookie": f"cs_vid={visitor}"} if visitor else {})
    r = httpx.post(f"{pipe.collector_url}/v1/events", json=body, headers=headers, timeout=10)
    assert r.status_code == 202, r.text
    return r


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
    granted = post_consent(pipeline, True, IP_A)
    receipt = granted.json()
    assert receipt["consent_id"] and "." in receipt["receipt"]
    A = granted.cookies["cs_vid"]  # minted by the collector, never in a body
    assert A not in granted.text
    key_a, key_b = pseudonymize(A, KEY), pseudonymize(B, KEY)
    declined = post_consent(pipeline, False, IP_B, body_id=B).json()
    own = {"Cookie": f"cs_vid={A}"}  # the read answers the cookie's visitor only
    in_force = httpx.get(f"{pipeline.collector_url}/v1/consent", headers=own).json()
    assert in_force["choices"]["analytics"] is True

    repo: Repository = pipeline.repo

    def refusal_recorded() -> bool:
        query = f"SELECT visitor_key FROM {db(repo)}.consent_ledger WHERE consent_id = %(id)s"
        rows = repo.storage.query(query, {"id": declined["consent_id"]})
        return bool(rows) and rows[0]["visitor_key"] == ""

    wait_until(
        lambda: repo.count_subject(key_a).get("consent_ledger", 0) >= 1 and refusal_recorded(),
        timeout=120,
        what="the worker to record both consent decisions (B's anonymously)",
        pipe=pipeline,
    )
    answer = post_events(pipeline, [pageview("/start"), pageview("/billing")], IP_A, A).json()
    assert answer == {"accepted": 2, "duplicates": 0, "rejected": []}
    post_events(pipeline, [pageview("/start", B), pageview("/outage", B)], IP_B)

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
    in_redis = redis_text(pipeline.env["CONSENTSTREAM_REDIS_URL"])
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
    assert sum(repo.count_subject(key_b).values()) == 0, "B's body id was never anyone"

    late = post_events(pipeline, [pageview("/after-deletion", A)], IP_A, A)
    assert late.headers["set-cookie"].startswith('cs_vid=""'), "the erased id's cookie is cleared"
    post_events(pipeline, [pageview("/marker", B)], IP_B)
    wait_until(
        lambda: (
            repo.storage.query(
                f"SELECT count() AS n FROM {db(repo)}.usage_events WHERE page_path = '/marker'"
            )[0]["n"]
            == 1
        ),
        what="a later event to land",
    )
    assert receipt["kafka"]["data_key_destroyed"] is True
    assert sum(repo.count_subject(key_a).values()) == 0
    scan_kafka(pipeline, key_a, (IP_A, IP_B, A, B))
    after = repo.storage.query(
        f"SELECT visitor_key FROM {db(repo)}.usage_events WHERE page_path = '/after-deletion'"
    )
    assert all(r["visitor_key"] == "" for r in after), "at most an anonymous visit, never A's"


def scan_kafka(pipe, erased: str, raws: tuple[str, ...]) -> None:
    """No raw IP or visitor id in plaintext in any topic of the run; the erased one's unreadable.

    The other sealed messages (B's, under the day's anonymous subject) do open, to B's raw IP:
    the scan sees raw values.
    """
    env = pipe.env
    topics = Topics(env["CONSENTSTREAM_TOPIC_PREFIX"])
    dump = kafka_dump(
        env.get("CONSENTSTREAM_KAFKA_BOOTSTRAP", CommonSettings().kafka_bootstrap),
        (topics.prefix, env["CONSENTSTREAM_WORKER_APP_ID"]),
    )
    assert {topics.raw_events, topics.consent, topics.dead_letters} <= set(dump)
    for topic, records in dump.items():
        for key, value in records:
            for raw in raws:
                assert raw.encode() not in key + value, f"raw {raw} in plaintext on {topic}"
    sealed = [
        (envelope[0], value)
        for topic in (topics.raw_events, topics.consent)
        for _, value in dump[topic]
        if (envelope := read_envelope(value)) is not None
    ]
    assert erased in {subject for subject, _ in sealed}
    assert all(opened(v, env) is None for s, v in sealed if s == erased), "erased copy opens"
    kept_plain = b"".join(opened(v, env) or b"" for s, v in sealed if s != erased)
    assert IP_B.encode() in kept_plain
