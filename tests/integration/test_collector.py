"""The collector's HTTP contract, over real HTTP against a collector process, Kafka and Redis.

Each collector runs as ``python -m services.collector`` on a free port with its own topic prefix;
what reached Kafka is read back with a kafka-python consumer.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from redis import Redis

with warnings.catch_warnings():
    # kafka-python 3.0 calls the deprecated importlib.resources.read_text at import time.
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaConsumer, TopicPartition

from consentstream import redis_keys
from consentstream.identity import pseudonymize
from consentstream.kafka_topics import ensure_topics, plan
from consentstream.settings import CommonSettings
from consentstream.topics import Topics
from tests.e2e.processes import Pipeline, free_port, wait_http
from tests.isolation import isolated_env
from tests.sealed import opened

pytestmark = pytest.mark.integration

# A recent time: the collector refuses events more than a few days old.
TS = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Collector:
    """A running collector process and the topics it writes."""

    url: str
    topics: Topics
    bootstrap: str
    pipe: Pipeline

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", timeout=30, **kwargs)

    def events(self, visitor: str | None = None, **kwargs: Any) -> httpx.Response:
        """POST /v1/events, from the browser holding ``visitor``'s cookie when given."""
        if visitor is not None:
            kwargs["headers"] = {**kwargs.get("headers", {}), **as_cookie(visitor)}
        return self.post("/v1/events", **kwargs)

    def grant(self, **headers: str) -> str:
        """A fresh visitor: an analytics grant, and the id the collector minted into its cookie."""
        answer = self.post("/v1/consent", json=consent_body(analytics=True), headers=headers)
        assert answer.status_code == 201, answer.text
        minted = cookie_id(answer)
        assert minted, "an analytics grant sets the visitor cookie"
        return minted

    def raw_messages(self) -> list[tuple[bytes, dict[str, Any]]]:
        """``(key, RawBatch)`` of every message on the raw topic (opened: they travel sealed)."""
        return read_records(self.bootstrap, self.topics.raw_events)

    def raw_events(self) -> list[dict[str, Any]]:
        """Every event on the raw topic, each with its batch's facts and times."""
        return [
            {**{k: v for k, v in batch.items() if k != "events"}, "event": e}
            for _, batch in self.raw_messages()
            for e in batch["events"]
        ]

    def consents(self) -> list[dict[str, Any]]:
        return read_topic(self.bootstrap, self.topics.consent)

    def raw_consents(self) -> list[tuple[bytes, dict[str, Any]]]:
        """``(key, ConsentDecision)`` of every message on the consent topic."""
        return read_records(self.bootstrap, self.topics.consent)


@contextmanager
def running_collector(
    log_dir: Path, stack: CommonSettings, prefix: str | None = None, **settings: str
) -> Iterator[Collector]:
    """A collector process on a free port; ``settings`` become ``CONSENTSTREAM_*`` variables."""
    port = free_port()
    chosen = {"topic_prefix": prefix} if prefix else {}
    run = isolated_env(
        "collector",
        stack.clickhouse_url,
        collector_port=port,
        log_level="WARNING",
        **chosen | settings,
    )
    topics = Topics(run.topic_prefix)
    ensure_topics(stack.kafka_bootstrap, plan(topics, 2, 24))
    pipe = Pipeline(run.env, f"http://127.0.0.1:{port}", "")
    proc = pipe.start(f"collector-{port}", "services.collector", log_dir)
    try:
        wait_http(f"{pipe.collector_url}/healthz", proc)
        yield Collector(pipe.collector_url, topics, stack.kafka_bootstrap, pipe)
    finally:
        pipe.stop(proc.name)


def read_topic(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every message of ``topic`` up to its current end, decoded."""
    return [value for _, value in read_records(bootstrap, topic)]


def read_records(bootstrap: str, topic: str) -> list[tuple[bytes, dict[str, Any]]]:
    """Every ``(key, value)`` of ``topic`` up to its current end, values opened and decoded."""
    return [
        (key, orjson.loads(opened(value) or b"null"))
        for key, value in read_raw_records(bootstrap, topic)
    ]


def read_raw_records(bootstrap: str, topic: str) -> list[tuple[bytes, bytes]]:
    """Every ``(key, value)`` of ``topic`` up to its current end, as stored."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        end = consumer.end_offsets(parts)
        values: list[tuple[bytes, bytes]] = []
        for _ in range(60):
            if all(consumer.position(p) >= end[p] for p in parts):
                break
            for records in consumer.poll(timeout_ms=500).values():
                values.extend((r.key, r.value) for r in records)
        return values
    finally:
        consumer.close()


def event(**overrides: Any) -> dict[str, Any]:
    """A valid pageview with a fresh event id."""
    return {
        "event_id": str(uuid.uuid4()),
        "type": "pageview",
        "ts": TS,
        "page": {"url": "https://www.example.com/tariffs", "title": "Tariffs"},
        **overrides,
    }


def cookie_id(answer: httpx.Response) -> str | None:
    """The visitor id a response set in its ``cs_vid`` cookie (None when it set none)."""
    return answer.cookies.get("cs_vid")


def as_cookie(visitor: str) -> dict[str, str]:
    """The header a browser holding ``visitor``'s cookie sends."""
    return {"Cookie": f"cs_vid={visitor}"}


def consent_body(**choices: bool) -> dict[str, Any]:
    """A consent decision as the snippet posts it: no visitor id, the cookie says who."""
    return {
        "choices": {"analytics": False, "marketing": False, "preferences": False, **choices},
        "policy_version": "2026-01",
        "policy_hash": "sha256-test",
        "banner_hash": "banner-test",
        "source": "banner",
    }


@pytest.fixture(scope="module")
def collector(
    stack: CommonSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Collector]:
    """One collector behind a trusted proxy at 127.0.0.1 (the test client's address)."""
    with running_collector(
        tmp_path_factory.mktemp("collector"), stack, trusted_proxies='["127.0.0.1/32"]'
    ) as running:
        yield running


def ids_in(messages: list[dict[str, Any]]) -> list[str]:
    return [m["event"]["event_id"] for m in messages]


def test_batch_is_accepted_and_every_event_is_in_kafka(collector: Collector) -> None:
    batch = [event() for _ in range(5)]
    answer = collector.events(json={"events": batch, "sent_at": TS})
    assert answer.status_code == 202
    assert answer.json() == {"accepted": 5, "duplicates": 0, "rejected": []}
    stored = [m for m in collector.raw_events() if m["event"]["event_id"] in ids_in_batch(batch)]
    assert sorted(ids_in(stored)) == sorted(ids_in_batch(batch))
    assert all(m["sent_at"] is not None and m["received_at"] for m in stored)


def ids_in_batch(batch: list[dict[str, Any]]) -> list[str]:
    return [e["event_id"] for e in batch]


def test_one_kafka_message_for_the_cookie_visitor_and_one_for_an_anonymous_request(
    collector: Collector, stack: CommonSettings
) -> None:
    alice = collector.grant()
    mine = [event(), event(visitor_id=f"v-{uuid.uuid4().hex}"), event(visitor_id=alice)]
    anonymous = [event(), event()]
    assert collector.events(alice, json={"events": mine, "sent_at": TS}).json()["accepted"] == 3
    assert collector.events(json={"events": anonymous, "sent_at": TS}).json()["accepted"] == 2
    ours = set(ids_in_batch(mine + anonymous))
    messages = {
        tuple(e["event_id"] for e in value["events"]): (key, value)
        for key, value in collector.raw_messages()
        if {e["event_id"] for e in value["events"]} & ours
    }
    assert set(messages) == {tuple(ids_in_batch(mine)), tuple(ids_in_batch(anonymous))}
    key, value = messages[tuple(ids_in_batch(mine))]
    assert key == pseudonymize(alice, stack.pseudonym_key.get_secret_value()).encode()
    assert [e["visitor_id"] for e in value["events"]] == [alice] * 3
    key, value = messages[tuple(ids_in_batch(anonymous))]
    assert key == uuid.UUID(anonymous[0]["event_id"]).bytes  # keyed by the first one's id


def test_single_bare_event_as_text_plain_like_send_beacon(collector: Collector) -> None:
    one = event()
    answer = collector.events(
        content=orjson.dumps(one), headers={"Content-Type": "text/plain;charset=UTF-8"}
    )
    assert answer.status_code == 202
    assert answer.json()["accepted"] == 1
    assert one["event_id"] in ids_in(collector.raw_events())


def test_invalid_json_is_400(collector: Collector) -> None:
    answer = collector.events(content=b'{"events": [', headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "bad_request"
    assert "invalid JSON" in answer.json()["error"]["message"]


def test_body_over_512_kib_is_413(collector: Collector) -> None:
    padding = "x" * 256
    big = [event(page={"url": "https://www.example.com/", "title": padding}) for _ in range(2100)]
    body = orjson.dumps({"events": big})
    assert len(body) > 512 * 1024
    assert (
        collector.events(content=body, headers={"Content-Type": "application/json"}).status_code
        == 413
    )


def test_more_than_500_events_is_413(collector: Collector) -> None:
    batch = [event() for _ in range(501)]
    answer = collector.events(json={"events": batch})
    assert answer.status_code == 413
    assert not set(ids_in_batch(batch)) & set(ids_in(collector.raw_events()))


def test_other_content_type_is_415(collector: Collector) -> None:
    answer = collector.events(content=b"<event/>", headers={"Content-Type": "application/xml"})
    assert answer.status_code == 415


def test_every_event_invalid_is_422_with_index_errors(collector: Collector) -> None:
    answer = collector.events(json={"events": [{"type": "pageview"}, event(type="nope")]})
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "invalid_request"
    rejected = error["rejected"]
    assert [r["index"] for r in rejected] == [0, 1]
    assert "event_id" in rejected[0]["error"] and "type" in rejected[1]["error"]


def test_event_whose_corrected_time_leaves_the_window_is_rejected_naming_ts(
    collector: Collector,
) -> None:
    # sent_at a century ahead shifts ts (2000) back to 1926: storage could never insert it.
    poison = event(ts="2000-01-01T00:00:00Z")
    answer = collector.events(json={"events": [poison], "sent_at": "2099-12-31T00:00:00Z"})
    assert answer.status_code == 422, answer.text
    (rejected,) = answer.json()["error"]["rejected"]
    assert rejected["index"] == 0 and rejected["error"].startswith("ts:")
    assert poison["event_id"] not in ids_in(collector.raw_events())


def test_out_of_window_events_are_refused_one_by_one(collector: Collector) -> None:
    now = datetime.now(UTC)
    old = event(ts=(now - timedelta(days=30)).isoformat())
    ahead = event(ts=(now + timedelta(hours=2)).isoformat())
    good = event(ts=now.isoformat())
    answer = collector.events(json={"events": [old, good, ahead]})
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["accepted"] == 1
    assert [(r["index"], r["error"][:3]) for r in body["rejected"]] == [(0, "ts:"), (2, "ts:")]
    assert "before it was received" in body["rejected"][0]["error"]
    assert "after it was received" in body["rejected"][1]["error"]
    stored = ids_in(collector.raw_events())
    assert good["event_id"] in stored and old["event_id"] not in stored


def test_partial_batch_keeps_the_good_events(collector: Collector) -> None:
    good_a, good_b = event(), event()
    answer = collector.events(json={"events": [good_a, {"event_id": "not-a-uuid"}, good_b]})
    assert answer.status_code == 202
    body = answer.json()
    assert body["accepted"] == 2 and [r["index"] for r in body["rejected"]] == [1]
    stored = ids_in(collector.raw_events())
    assert good_a["event_id"] in stored and good_b["event_id"] in stored


def test_gpc_and_dnt_are_recorded_on_events(collector: Collector) -> None:
    flagged, plain = event(), event()
    collector.events(json=flagged, headers={"Sec-GPC": "1", "DNT": "1"})
    collector.events(json=plain)
    facts = {m["event"]["event_id"]: m["facts"] for m in collector.raw_events()}
    assert (facts[flagged["event_id"]]["gpc"], facts[flagged["event_id"]]["dnt"]) == (True, True)
    assert (facts[plain["event_id"]]["gpc"], facts[plain["event_id"]]["dnt"]) == (False, False)


def test_gpc_forces_marketing_off_in_the_recorded_consent(collector: Collector) -> None:
    body = consent_body(analytics=True, marketing=True)
    answer = collector.post("/v1/consent", json=body, headers={"Sec-GPC": "1"})
    assert answer.status_code == 201
    consent_id = answer.json()["consent_id"]
    assert answer.json()["receipt"]
    visitor = cookie_id(answer)
    assert visitor
    own = httpx.get(f"{collector.url}/v1/consent", headers=as_cookie(visitor), timeout=10)
    in_force = own.json()
    assert in_force["consent_id"] == consent_id
    assert in_force["choices"]["marketing"] is False and in_force["choices"]["analytics"] is True
    assert in_force["gpc_applied"] is True
    [record] = [c for c in collector.consents() if c["consent_id"] == consent_id]
    assert record["gpc"] is True and record["gpc_applied"] is True
    assert record["choices"]["marketing"] is False


def test_the_decision_in_force_expires_with_the_visitor_cookie(
    collector: Collector, stack: CommonSettings
) -> None:
    key = pseudonymize(collector.grant(), stack.pseudonym_key.get_secret_value())
    client = Redis.from_url(stack.redis_url)
    try:
        left = client.ttl(redis_keys.consent(key))
        client.delete(redis_keys.consent(key))
    finally:
        client.close()
    assert stack.consent_state_seconds - 60 <= left <= stack.consent_state_seconds


def test_ip_from_a_trusted_proxy_and_never_from_a_spoofed_header(
    collector: Collector, stack: CommonSettings, tmp_path: Path
) -> None:
    proxied = event()
    # the client claimed 203.0.113.99; the trusted proxy (127.0.0.1) appended the real address
    collector.events(json=proxied, headers={"X-Forwarded-For": "203.0.113.99, 198.51.100.20"})
    with running_collector(tmp_path, stack, prefix=collector.topics.prefix) as untrusting:
        spoofed = event()
        untrusting.events(json=spoofed, headers={"X-Forwarded-For": "203.0.113.99"})
    ips = {m["event"]["event_id"]: m["facts"]["ip"] for m in collector.raw_events()}
    assert ips[proxied["event_id"]] == "198.51.100.20"
    assert ips[spoofed["event_id"]] == "127.0.0.1"


def test_same_batch_twice_is_stored_once_and_counted_as_duplicates(collector: Collector) -> None:
    batch = [event() for _ in range(4)]
    first = collector.events(json={"events": batch})
    second = collector.events(json={"events": batch})
    assert first.json() == {"accepted": 4, "duplicates": 0, "rejected": []}
    assert second.status_code == 202
    assert second.json() == {"accepted": 0, "duplicates": 4, "rejected": []}
    stored = [i for i in ids_in(collector.raw_events()) if i in ids_in_batch(batch)]
    assert sorted(stored) == sorted(ids_in_batch(batch))


def test_kafka_unreachable_is_503_and_the_retry_is_accepted_once(
    collector: Collector, stack: CommonSettings, tmp_path: Path
) -> None:
    batch = [event() for _ in range(3)]
    with running_collector(
        tmp_path,
        stack,
        prefix=collector.topics.prefix,
        kafka_bootstrap=f"127.0.0.1:{free_port()}",  # nothing listens there
        produce_timeout_seconds="1",
        retry_after_seconds="7",
    ) as cut_off:
        refused = cut_off.events(json={"events": batch})
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "7"
        assert httpx.get(f"{cut_off.url}/readyz", timeout=10).status_code == 503
    assert not set(ids_in_batch(batch)) & set(ids_in(collector.raw_events()))
    # the client retries once Kafka is back: its events are new, not duplicates, and stored once
    retried = collector.events(json={"events": batch})
    assert retried.json() == {"accepted": 3, "duplicates": 0, "rejected": []}
    stored = [i for i in ids_in(collector.raw_events()) if i in ids_in_batch(batch)]
    assert sorted(stored) == sorted(ids_in_batch(batch))


def test_health_readiness_and_metrics(collector: Collector) -> None:
    assert httpx.get(f"{collector.url}/healthz", timeout=10).json() == {"status": "ok"}
    ready = httpx.get(f"{collector.url}/readyz", timeout=10)
    assert ready.status_code == 200 and ready.json() == {
        "kafka": True,
        "redis": True,
        "ready": True,
    }
    collector.events(json=event())
    metrics = httpx.get(f"{collector.url}/metrics", timeout=10).text
    assert "collector_events_accepted_total" in metrics
    # The events route is timed under its own template, as every routed request is.
    assert 'collector_request_seconds_count{route="/v1/events"}' in metrics
