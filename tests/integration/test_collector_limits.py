"""Abuse controls over real HTTP: a per-IP token bucket in Redis that never blocks on Redis."""

from __future__ import annotations

import itertools
import secrets
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
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
        keys = [k.decode() for k in store.scan_iter("cs:ratelimit:{*", count=1000)]
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
    """The Redis of fast state (dedupe, rate limits) is down; the key store is elsewhere."""
    with running_collector(
        tmp_path,
        stack,
        redis_url=f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        keystore_url=stack.keystore_redis_url,
        rate_limit_per_second="0.1",
        rate_limit_burst="1",
    ) as no_redis:
        answers = [no_redis.events(json=event()).status_code for _ in range(3)]
        ready = httpx.get(f"{no_redis.url}/readyz", timeout=10)
        accepted = {m["event"]["event_id"] for m in no_redis.raw_events()}
    assert answers == [202, 202, 202]
    assert ready.status_code == 200 and ready.json()["redis"] is False
    assert len(accepted) == 3


def test_key_store_down_answers_503_and_nothing_reaches_kafka(
    stack: CommonSettings, tmp_path: Path
) -> None:
    """Without a data key nothing can be sealed, and nothing raw may go out: the client retries."""
    with running_collector(
        tmp_path,
        stack,
        keystore_url=f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        retry_after_seconds="3",
    ) as no_keys:
        answer = no_keys.events(json=event(visitor_id="visitor_keystore_down"))
        messages = no_keys.raw_messages()
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "3"
    assert answer.json()["error"]["code"] == "unavailable"
    assert messages == []


def test_saturated_producer_answers_503_instead_of_queueing(
    stack: CommonSettings, tmp_path: Path
) -> None:
    """One produce slot, held by a request stuck on a silent broker: the next is refused."""
    with (
        black_hole() as silent_broker,
        running_collector(
            tmp_path,
            stack,
            kafka_bootstrap=silent_broker,
            produce_timeout_seconds="4",
            max_inflight_produces="1",
            retry_after_seconds="3",
        ) as busy,
    ):
        with ThreadPoolExecutor(1) as pool:
            stuck = pool.submit(busy.events, json=event())
            gauge = wait_for_metric(busy, "collector_producer_inflight 1.0")
            refused = busy.events(json=event())
            metrics = httpx.get(f"{busy.url}/metrics", timeout=10).text
            assert stuck.result().status_code == 503  # Kafka never answered
    assert gauge
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "3"
    assert "busy" in refused.json()["error"]["message"]
    assert 'collector_requests_rejected_total{reason="saturated"} 1.0' in metrics


@contextmanager
def black_hole() -> Iterator[str]:
    """An address that takes TCP connections and never answers, like a hung broker."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"127.0.0.1:{listener.getsockname()[1]}"


def wait_for_metric(collector: Collector, line: str) -> bool:
    for _ in range(50):
        if line in httpx.get(f"{collector.url}/metrics", timeout=10).text:
            return True
        time.sleep(0.05)
    return False
