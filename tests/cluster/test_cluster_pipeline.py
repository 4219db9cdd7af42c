"""The collector, worker and API as processes on a Redis Cluster and the 2 x 2 ClickHouse cluster.

What an operator sets for a cluster deployment (``REDIS_CLUSTER``, a ``?cluster=`` storage URL,
``REDIS_LOCK_URL`` on a single Redis for locks), with the real processes of a run: events land
once (a resent batch is answered as duplicates by the dedupe script on the cluster), consent is
in force from the cluster (the collector's answer, the worker's pseudonymised rows), the rate
limit answers 429, and a deletion empties ClickHouse and the subject's Redis Cluster keys,
suppressing a later event.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.cluster import RedisCluster

from consentstream import redis_keys
from consentstream.identity import pseudonymize
from consentstream.settings import CommonSettings
from consentstream.storage import open_storage, sql
from consentstream.storage.repository import Repository
from ops.stack.cluster import cluster_url
from ops.stack.config import StackSettings
from tests.e2e.processes import Pipeline, running_pipeline, wait_until
from tests.isolation import isolated_env

pytestmark = [pytest.mark.integration, pytest.mark.cluster, pytest.mark.e2e]

IP_A, IP_B, IP_FLOOD = "203.0.113.41", "198.51.100.42", "192.0.2.43"
KEY = "cluster-pipeline-pseudonym-key"
BURST = 8


def pageview(visitor: str | None, path: str) -> dict[str, object]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "pageview",
        "ts": datetime.now(UTC).isoformat(),
        "visitor_id": visitor,
        "page": {"url": f"https://example.com{path}", "title": path},
        "browser": {"user_agent": "Mozilla/5.0 Chrome/121.0", "language": "en-GB"},
    }


def post(
    pipe: Pipeline, route: str, body: object, ip: str, visitor: str | None = None
) -> httpx.Response:
    """POST from ``ip``, as a browser holding ``visitor``'s cookie when given."""
    headers = {"X-Forwarded-For": ip} | ({"Cookie": f"cs_vid={visitor}"} if visitor else {})
    return httpx.post(f"{pipe.collector_url}{route}", json=body, headers=headers, timeout=10)


def consent(pipe: Pipeline, analytics: bool, ip: str) -> str | None:
    """A banner decision; the visitor id the collector minted into its cookie (a grant)."""
    choices = {"necessary": True, "analytics": analytics, "marketing": False, "preferences": False}
    body = {
        "choices": choices,
        "policy_version": "2026-01",
        "policy_hash": "cluster",
        "banner_hash": "cluster",
        "source": "banner",
    }
    answer = post(pipe, "/v1/consent", body, ip)
    assert answer.status_code == 201, answer.text
    return answer.cookies.get("cs_vid")


@pytest.fixture(name="pipe", scope="module")
def pipe_fixture(
    cluster_stack: StackSettings,
    redis_cluster_port: int,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Pipeline]:
    """A run's processes on both clusters; locks on the shared single Redis."""
    database = f"cs_rc_{secrets.token_hex(4)}"
    storage_url = cluster_url(cluster_stack, database)
    run = isolated_env(
        "rc",
        CommonSettings().clickhouse_url,
        worker_data_dir=tmp_path_factory.mktemp("worker"),
        pseudonym_key=KEY,
        trusted_proxies='["127.0.0.1/32"]',
        topic_partitions=2,
        redis_url=f"redis://127.0.0.1:{redis_cluster_port}/0",
        redis_cluster="true",
        redis_lock_url=CommonSettings().redis_url,
        rate_limit_per_second=0.1,  # a token per 10 s: the burst is spent however slow the box
        rate_limit_burst=BURST,
    )
    run.env["CONSENTSTREAM_CLICKHOUSE_URL"] = storage_url
    with running_pipeline(run.env, Path(tmp_path_factory.mktemp("logs"))) as pipe:
        storage = open_storage(storage_url)
        try:
            pipe.repo = Repository(storage)  # type: ignore[attr-defined]
            yield pipe
        finally:
            storage.command(sql.statement(sql.DROP_DATABASE, database, cluster=storage.cluster))
            storage.close()


def stored_paths(repo: Repository) -> list[dict[str, Any]]:
    statement = "SELECT visitor_key, page_path, ip_prefix FROM {db}.usage_events"
    return repo.storage.query(sql.statement(statement, repo.storage.database))


def file_deletion(pipe: Pipeline, visitor: str) -> dict[str, Any]:
    key = pipe.cli("keys", "create", "--role", "privacy")  # audited: takes the lock Redis
    headers = {"Authorization": f"Bearer {key}"}
    body = {"type": "deletion", "subject": {"visitor_id": visitor}}
    filed = httpx.post(f"{pipe.api_url}/v1/privacy/requests", json=body, headers=headers)
    assert filed.status_code == 202, filed.text
    url = f"{pipe.api_url}/v1/privacy/requests/{filed.json()['request_id']}"

    def done() -> dict[str, Any] | None:
        status = httpx.get(url, headers=headers).json()
        return status if status["status"] == "done" else None

    finished: dict[str, Any] = wait_until(
        done, timeout=120, what="the deletion to finish", pipe=pipe
    )
    return finished


def test_events_consent_limits_and_deletion_on_the_clusters(pipe: Pipeline) -> None:
    repo: Repository = pipe.repo  # type: ignore[attr-defined]
    a = consent(pipe, True, IP_A)
    assert a, "a grant mints the visitor id into the cookie"
    assert consent(pipe, False, IP_B) is None, "a refusal names no one"
    key_a = pseudonymize(a, KEY)
    own = {"Cookie": f"cs_vid={a}"}  # the read answers the cookie's visitor only
    in_force = httpx.get(f"{pipe.collector_url}/v1/consent", headers=own).json()
    assert in_force["choices"]["analytics"] is True
    wait_until(
        lambda: repo.count_subject(key_a).get("consent_ledger", 0) >= 1,
        timeout=120,
        what="the worker to record A's decision",
        pipe=pipe,
    )

    # Fifty ids hash to many slots: the dedupe script runs once per tag, and a resent batch
    # (a client retry) is all duplicates.
    batch = {"events": [pageview(None, f"/a/{i}") for i in range(50)]}
    assert post(pipe, "/v1/events", batch, IP_A, a).json()["accepted"] == 50
    again = post(pipe, "/v1/events", batch, IP_A, a).json()
    assert (again["accepted"], again["duplicates"]) == (0, 50)
    assert post(pipe, "/v1/events", {"events": [pageview(None, "/b")]}, IP_B).status_code == 202
    rows = wait_until(
        lambda: (found := stored_paths(repo)) and len(found) >= 51 and found,
        timeout=90,
        what="51 rows",
        pipe=pipe,
    )
    a_rows = [row for row in rows if row["visitor_key"] == key_a]
    assert len(rows) == 51 and len({row["page_path"] for row in a_rows}) == 50
    assert {row["ip_prefix"] for row in a_rows} == {"203.0.113.0/24"}  # consented
    assert [row["visitor_key"] for row in rows if row not in a_rows] == [""]  # B declined

    began = time.monotonic()
    flood = {"events": [pageview(None, "/flood")]}
    answers = [post(pipe, "/v1/events", flood, IP_FLOOD) for _ in range(BURST + 4)]
    codes = [answer.status_code for answer in answers]
    assert codes[:BURST] == [202] * BURST, codes
    assert 429 in codes, f"{codes} in {time.monotonic() - began:.1f} s"
    assert all(a.headers["Retry-After"] for a in answers if a.status_code == 429)

    receipt = file_deletion(pipe, a)["result"]["receipt"]
    assert receipt["stores"]["clickhouse.usage_events"] == {"before": 50, "after": 0}
    assert receipt["verified_zero"] is True
    cluster_port = int(pipe.env["CONSENTSTREAM_REDIS_URL"].rsplit(":", 1)[1].split("/")[0])
    with RedisCluster(host="127.0.0.1", port=cluster_port) as redis:
        assert redis.exists(redis_keys.consent(key_a), redis_keys.consent_history(key_a)) == 0
        assert redis.get(redis_keys.suppressed(key_a)) == b"1"
    post(pipe, "/v1/events", {"events": [pageview(None, "/after")]}, IP_A, a)
    post(pipe, "/v1/events", {"events": [pageview(None, "/marker")]}, IP_B)
    wait_until(
        lambda: any(row["page_path"] == "/marker" for row in stored_paths(repo)),
        what="a later event to land",
        pipe=pipe,
    )
    after = [row for row in stored_paths(repo) if row["page_path"] == "/after"]
    assert all(row["visitor_key"] == "" for row in after), "at most anonymous, never A's"
    assert sum(repo.count_subject(key_a).values()) == 0
