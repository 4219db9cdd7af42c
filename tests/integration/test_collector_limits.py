"""Abuse controls over real HTTP: a per-IP token bucket in Redis that never blocks on Redis."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from consentstream.settings import CommonSettings
from tests.e2e.processes import free_port
from tests.integration.test_collector import Collector, consent_body, event, running_collector

pytestmark = pytest.mark.integration


HOSTS = itertools.count(1)


def client(ip_range: str = "198.51.100") -> dict[str, str]:
    """Headers of a new client behind the trusted proxy, at a documentation address."""
    return {"X-Forwarded-For": f"{ip_range}.{next(HOSTS)}"}


@pytest.fixture(scope="module")
def limited(stack: CommonSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    """Three requests at once, then one every ten seconds; a fresh key so buckets are fresh."""
    with running_collector(
        tmp_path_factory.mktemp("limits"),
        stack,
        trusted_proxies='["127.0.0.1/32"]',
        rate_limit_per_second="0.1",
        rate_limit_burst="3",
        pseudonym_key=secrets.token_hex(16),
    ) as running:
        yield running


def test_a_client_over_its_burst_gets_429_with_retry_after(limited: Collector) -> None:
    me = client()
    answers = [limited.events(json=event(), headers=me).status_code for _ in range(3)]
    assert answers == [202, 202, 202]
    refused = limited.events(json=event(), headers=me)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 10
    # consent shares the same bucket: the spent client is refused there too
    assert limited.post("/v1/consent", json=consent_body(), headers=me).status_code == 429


def test_other_clients_are_not_affected(limited: Collector) -> None:
    noisy, quiet = client("198.51.100"), client("203.0.113")
    for _ in range(4):
        limited.events(json=event(), headers=noisy)
    assert limited.events(json=event(), headers=noisy).status_code == 429
    assert limited.post("/v1/consent", json=consent_body(), headers=quiet).status_code == 201


def test_redis_holds_no_raw_ip(limited: Collector, stack: CommonSettings) -> None:
    me = client()
    limited.events(json=event(), headers=me)
    store = redis.Redis.from_url(stack.redis_url)
    try:
        keys = [k.decode() for k in store.scan_iter("cs:ratelimit:*", count=1000)]
    finally:
        store.close()
    assert keys
    assert not [k for k in keys if me["X-Forwarded-For"] in k]


def test_rate_limited_requests_are_counted_by_reason(limited: Collector) -> None:
    me = client()
    for _ in range(5):
        limited.events(json=event(), headers=me)
    metrics = httpx.get(f"{limited.url}/metrics", timeout=10).text
    assert 'collector_requests_rejected_total{reason="rate_limited"}' in metrics


def test_redis_down_does_not_block_ingestion(stack: CommonSettings, tmp_path: Path) -> None:
    with running_collector(
        tmp_path,
        stack,
        redis_url=f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        rate_limit_per_second="0.1",
        rate_limit_burst="1",
    ) as no_redis:
        answers = [no_redis.events(json=event()).status_code for _ in range(3)]
        ready = httpx.get(f"{no_redis.url}/readyz", timeout=10)
        accepted = {m["event"]["event_id"] for m in no_redis.raw_events()}
    assert answers == [202, 202, 202]
    assert ready.status_code == 200 and ready.json()["redis"] is False
    assert len(accepted) == 3
