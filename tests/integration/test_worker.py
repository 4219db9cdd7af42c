"""The stream worker as a process on the real stack: what a user of the pipeline would notice.

Each test gets its own topic prefix, consumer group (app id), ClickHouse database and
pseudonym key, and starts ``python -m streams`` the way an operator does. Events go straight
to the raw topic, keyed as the collector keys them.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from redis import Redis
from redis.exceptions import RedisError

with warnings.catch_warnings():
    # kafka-python 3.x reads its protocol schemas with importlib.resources' legacy API at
    # import time (read_text, then open_text); pyproject ignores only the first warning.
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.partitioner.default import murmur2

from consentstream import redis_keys  # noqa: E402
from consentstream.identity import pseudonymize  # noqa: E402
from consentstream.preparation import prepare_pipeline  # noqa: E402
from consentstream.receipt_signing import ReceiptSigner, verify_file  # noqa: E402
from consentstream.storage import Storage, open_storage, sql  # noqa: E402
from consentstream.storage.repository import Repository  # noqa: E402
from consentstream.topics import Topics  # noqa: E402
from schemas.events import ConsentChoices, Event  # noqa: E402
from schemas.messages import (  # noqa: E402
    ConsentDecision,
    PrivacyJob,
    RawBatch,
    RawEvent,
    RequestFacts,
)
from schemas.rows import PrivacyRequestRow  # noqa: E402
from streams.config import WorkerSettings  # noqa: E402
from tests.e2e.processes import free_port  # noqa: E402
from tests.isolation import PREFIX, isolated_env  # noqa: E402

pytestmark = pytest.mark.integration

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0"
IPS = ("192.0.2.10", "198.51.100.20", "203.0.113.30", "2001:db8:1:2::7")


@dataclass
class WorkerRun:
    """One isolated deployment: its settings, worker processes and clients."""

    settings: WorkerSettings
    env: dict[str, str]
    logs: Path
    storage: Storage
    redis: Redis
    producer: KafkaProducer
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def topics(self) -> Topics:
        return Topics(self.settings.topic_prefix)

    @property
    def secret(self) -> str:
        return self.settings.pseudonym_key.get_secret_value()

    def start(self, name: str, **extra: str) -> None:
        log = (self.logs / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "streams"],
            env={**self.env, **extra},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        proc = self.procs.pop(name)
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-4000:]

    def key_of(self, event: Event) -> bytes:
        vid = event.visitor_id
        return pseudonymize(vid, self.secret).encode() if vid else event.event_id.bytes

    def send_events(self, events: list[RawEvent], per_request: int = 50) -> None:
        """As the collector sends them: requests of up to ``per_request`` consecutive events.

        Events with different facts (IP, user agent) cannot share a request, so a "request" is
        also split by facts; within one, a RawBatch per visitor and one for the anonymous events.
        """
        for start in range(0, len(events), per_request):
            groups: dict[tuple[str, bytes], list[RawEvent]] = {}
            anonymous: dict[str, bytes] = {}
            for raw in events[start : start + per_request]:
                facts = raw.facts.model_dump_json()
                if raw.event.visitor_id:
                    key = self.key_of(raw.event)
                else:
                    key = anonymous.setdefault(facts, raw.event.event_id.bytes)
                groups.setdefault((facts, key), []).append(raw)
            for (_, key), group in groups.items():
                batch = RawBatch(
                    events=[r.event for r in group],
                    facts=group[0].facts,
                    received_at=group[0].received_at,
                    sent_at=group[0].sent_at,
                )
                self.producer.send(
                    self.topics.raw_events, key=key, value=batch.model_dump_json().encode()
                )
        self.producer.flush()

    def send_legacy_events(self, events: list[RawEvent]) -> None:
        """One RawEvent per message, as the collector produced before batches."""
        for raw in events:
            value = raw.model_dump_json().encode()
            self.producer.send(self.topics.raw_events, key=self.key_of(raw.event), value=value)
        self.producer.flush()

    def send_consent(self, decision: ConsentDecision) -> None:
        assert decision.visitor_id is not None
        key = pseudonymize(decision.visitor_id, self.secret).encode()
        self.producer.send(self.topics.consent, key=key, value=decision.model_dump_json().encode())
        self.producer.flush()

    def counts(self) -> dict[str, int]:
        """Rows as stored, as queries see them (FINAL), and distinct event ids."""
        db = sql.quote_identifier(self.storage.database)
        row = self.storage.query(
            f"SELECT count() AS stored, uniqExact(event_id) AS distinct_ids FROM {db}.usage_events"
        )[0]
        final = self.storage.query(f"SELECT count() AS n FROM {db}.usage_events FINAL")[0]
        return {"stored": row["stored"], "distinct": row["distinct_ids"], "final": final["n"]}

    def rows(self) -> list[dict[str, Any]]:
        db = sql.quote_identifier(self.storage.database)
        return self.storage.query(f"SELECT * FROM {db}.usage_events FINAL ORDER BY ts")

    def wait(self, predicate: Any, what: str, timeout: float = 90) -> Any:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                assert proc.poll() is None, f"worker {name} exited:\n{self.log(name)}"
            last = predicate()
            if last:
                return last
            time.sleep(0.3)
        logs = "\n".join(f"--- {n}\n{self.log(n)}" for n in self.procs)
        raise AssertionError(f"timed out waiting for {what} (last {last!r})\n{logs}")


@contextmanager
def isolated_run(
    stack: Any, tmp_path: Path, partitions: int, **overrides: str
) -> Iterator[WorkerRun]:
    """Topics, database and group of one's own; everything dropped or killed afterwards."""
    run = isolated_env(
        "itw",
        stack.clickhouse_url,
        worker_data_dir=tmp_path / "worker",
        topic_partitions=partitions,
        sink_batch_size=200,
        sink_flush_seconds=0.2,
        worker_metrics_port=0,
        worker_session_timeout=6,
        log_level="WARNING",
    )
    env = {**run.env, f"{PREFIX}PSEUDONYM_KEY": f"itw-key-{run.run}", **overrides}
    settings = WorkerSettings.model_validate(
        {k[len(PREFIX) :].lower(): v for k, v in env.items() if k.startswith(PREFIX)}
    )
    prepare_pipeline(settings)
    storage = open_storage(settings.clickhouse_url)
    redis = Redis.from_url(settings.redis_url)
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap.split(","), acks="all")
    logs = tmp_path / "logs"
    logs.mkdir(parents=True)
    wr = WorkerRun(settings, env, logs, storage, redis, producer)
    try:
        yield wr
    finally:
        for name in list(wr.procs):
            wr.stop(name, signal.SIGKILL)
        producer.close()
        storage.command(sql.statement(sql.DROP_DATABASE, storage.database))
        storage.close()
        redis.close()


@pytest.fixture
def worker_run(stack: Any, tmp_path: Path) -> Iterator[WorkerRun]:
    """An isolated deployment with 4 partitions and no worker started yet."""
    with isolated_run(stack, tmp_path, partitions=4) as wr:
        yield wr


@pytest.fixture(scope="module")
def shared_run(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerRun]:
    """One running worker for the tests that only need it to be there."""
    with isolated_run(stack, tmp_path_factory.mktemp("shared"), partitions=2) as wr:
        wr.start("shared", CONSENTSTREAM_WORKER_METRICS_PORT=str(SHARED_METRICS_PORT))
        wr.wait(lambda: _serving(SHARED_METRICS_PORT), "the worker's /metrics")
        yield wr


SHARED_METRICS_PORT = free_port()


def raw_event(visitor: str | None, n: int, ts: datetime | None = None, **extra: Any) -> RawEvent:
    at = ts or datetime.now(UTC)
    event = Event.model_validate(
        {
            "event_id": str(uuid.uuid4()),
            "type": "pageview",
            "ts": at.isoformat(),
            "visitor_id": visitor,
            "page": {"url": f"https://example.com/page/{n}?session=secret-{n}#x", "title": "P"},
            "browser": {"user_agent": UA, "language": "en-GB"},
            **extra,
        }
    )
    facts = RequestFacts(ip=IPS[n % len(IPS)], user_agent=UA)
    return RawEvent(event=event, facts=facts, received_at=at)


def decision(visitor: str, at: datetime, analytics: bool = True) -> ConsentDecision:
    return ConsentDecision(
        consent_id=uuid.uuid4().hex,
        visitor_id=visitor,
        choices=ConsentChoices(analytics=analytics, marketing=False, preferences=False),
        policy_version="2026-01",
        policy_hash="itw",
        banner_hash="itw",
        source="banner",
        recorded_at=at,
        gpc=False,
        dnt=False,
        gpc_applied=False,
    )


def visitors(count: int) -> list[str]:
    return [f"visitor_{i}_{secrets.token_hex(4)}" for i in range(count)]


def _serving(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def metric(port: int, name: str, labels: str = "") -> float:
    """One sample from a worker's /metrics (0 when absent)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    wanted = f"{name}{{{labels}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(wanted + " "):
            return float(line.split()[-1])
    return 0.0


class Trickle:
    """Sends events in the background at a steady pace, like live traffic."""

    def __init__(self, wr: WorkerRun, events: list[RawEvent], per_second: int) -> None:
        import threading

        self.sent = 0
        self._thread = threading.Thread(target=self._run, args=(wr, events, per_second))
        self._thread.start()

    def _run(self, wr: WorkerRun, events: list[RawEvent], per_second: int) -> None:
        chunk = max(1, per_second // 10)
        for start in range(0, len(events), chunk):
            wr.send_events(events[start : start + chunk])
            self.sent = start + len(events[start : start + chunk])
            time.sleep(0.1)

    def join(self) -> None:
        self._thread.join(120)


def test_kill_9_mid_stream_then_restart_stores_every_event_exactly_once(
    worker_run: WorkerRun,
) -> None:
    wr = worker_run
    people = visitors(12)
    for v in people[:6]:
        wr.send_consent(decision(v, datetime.now(UTC) - timedelta(minutes=5)))
    total = 6000
    events = [raw_event(people[n % 12] if n % 3 else None, n) for n in range(total)]
    wr.start("first")
    traffic = Trickle(wr, events, per_second=1000)
    at_kill = wr.wait(lambda: wr.counts()["final"] >= 800, "some rows stored")
    wr.stop("first", signal.SIGKILL)
    stored_at_kill = wr.counts()["distinct"]
    traffic.join()
    assert 0 < stored_at_kill < total, "the kill must land mid-stream"
    wr.start("restarted")
    wr.wait(lambda: wr.counts()["distinct"] >= total, "every event stored", timeout=120)
    time.sleep(2)  # anything replayed late would show up now
    counts = wr.counts()
    assert counts["distinct"] == total and counts["final"] == total, counts
    assert at_kill
    identified = [r for r in wr.rows() if r["visitor_key"]]
    assert identified and {r["visitor_key"] for r in identified} <= {
        pseudonymize(v, wr.secret) for v in people[:6]
    }


def _group_is_shared(wr: WorkerRun, members: int) -> bool:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=wr.settings.kafka_bootstrap.split(","))
    try:
        group = admin.describe_groups([wr.settings.worker_app_id])[wr.settings.worker_app_id]
    finally:
        admin.close()
    state = group.get("group_state") or group.get("state")
    return state == "Stable" and len(group.get("members") or []) == members


def test_two_workers_share_the_partitions_without_loss_or_duplicates(
    worker_run: WorkerRun,
) -> None:
    wr = worker_run
    ports = {"a": free_port(), "b": free_port()}
    for name, port in ports.items():
        wr.start(name, CONSENTSTREAM_WORKER_METRICS_PORT=str(port))
    wr.wait(lambda: _group_is_shared(wr, 2), "both workers in the group", timeout=90)
    total = 4000
    wr.send_events([raw_event(None, n) for n in range(total)])
    wr.wait(lambda: wr.counts()["distinct"] >= total, "every event stored", timeout=120)
    time.sleep(2)
    counts = wr.counts()
    assert counts["distinct"] == total and counts["final"] == total, counts
    stored = {n: metric(p, "consentstream_worker_events_stored_total") for n, p in ports.items()}
    assert all(v > 0 for v in stored.values()), f"one worker did nothing: {stored}"
    assert sum(stored.values()) >= total


def _stored_for(wr: WorkerRun, event_ids: set[uuid.UUID]) -> list[dict[str, Any]]:
    return [r for r in wr.rows() if r["event_id"] in event_ids]


def _wait_rows(wr: WorkerRun, ids: set[uuid.UUID]) -> list[dict[str, Any]]:
    wr.wait(lambda: len(_stored_for(wr, ids)) == len(ids), f"{len(ids)} events stored")
    return _stored_for(wr, ids)


def test_an_erased_subjects_late_events_never_land(shared_run: WorkerRun) -> None:
    wr = shared_run
    erased, kept = visitors(2)
    for v in (erased, kept):
        wr.send_consent(decision(v, datetime.now(UTC) - timedelta(minutes=5)))
    # What the deletion job does first: the subject goes on the suppression list.
    erased_key = pseudonymize(erased, wr.secret)
    wr.redis.set(redis_keys.suppressed(erased_key), b"1")
    try:
        before = metric(
            SHARED_METRICS_PORT, "consentstream_worker_events_dropped_total", 'reason="suppressed"'
        )
        late = [raw_event(erased, n) for n in range(5)]
        others = [raw_event(kept, n) for n in range(5)]
        wr.send_events(late + others)
        ids = {e.event.event_id for e in others}
        wr.wait(lambda: len(_stored_for(wr, ids)) == 5, "the other visitor's events")
        wr.wait(
            lambda: (
                metric(
                    SHARED_METRICS_PORT,
                    "consentstream_worker_events_dropped_total",
                    'reason="suppressed"',
                )
                >= before + 5
            ),
            "suppressed drops counted",
        )
        assert not _stored_for(wr, {e.event.event_id for e in late})
        assert Repository(wr.storage).count_subject(erased_key)["usage_events"] == 0
        assert wr.redis.get(redis_keys.consent(erased_key)) is None, "no mirror for the erased"
    finally:
        wr.redis.delete(redis_keys.suppressed(erased_key))


def test_worker_mirrors_consent_and_uses_the_mirror_for_unprocessed_decisions(
    shared_run: WorkerRun,
) -> None:
    wr = shared_run
    via_kafka, via_collector_only, too_late = visitors(3)
    now = datetime.now(UTC)
    d = decision(via_kafka, now - timedelta(minutes=1))
    wr.send_consent(d)
    key = pseudonymize(via_kafka, wr.secret)
    mirrored = wr.wait(lambda: wr.redis.get(redis_keys.consent(key)), "the worker's mirror")
    assert orjson.loads(mirrored)["consent_id"] == d.consent_id
    assert via_kafka.encode() not in mirrored
    # both expire consent_state_days after the decision (the visitor cookie's lifetime)
    assert wr.redis.ttl(redis_keys.consent(key)) > 300 * 86_400
    wr.wait(lambda: wr.redis.hlen(redis_keys.consent_history(key)), "the consent history")
    assert wr.redis.ttl(redis_keys.consent_history(key)) > 300 * 86_400

    # The collector mirrored this decision but the worker has not seen it on Kafka yet; the
    # event's time is 2 s before the decision (within the grace window), so it is covered.
    early = decision(via_collector_only, now)
    mirror = {
        "consent_id": early.consent_id,
        "choices": early.choices.model_dump(),
        "policy_version": early.policy_version,
        "recorded_at": early.recorded_at.isoformat(),
        "gpc_applied": False,
    }
    early_key = pseudonymize(via_collector_only, wr.secret)
    wr.redis.set(redis_keys.consent(early_key), orjson.dumps(mirror))
    late_decision = decision(too_late, now + timedelta(seconds=30))
    wr.send_consent(late_decision)
    covered = raw_event(via_collector_only, 1, ts=now - timedelta(seconds=2))
    uncovered = raw_event(too_late, 2, ts=now)
    wr.send_events([covered, uncovered])
    ids = {covered.event.event_id, uncovered.event.event_id}
    rows = {r["event_id"]: r for r in _wait_rows(wr, ids)}
    assert rows[covered.event.event_id]["consent_id"] == early.consent_id
    assert rows[covered.event.event_id]["visitor_key"] == early_key
    assert rows[uncovered.event.event_id]["consent_id"] == ""
    assert rows[uncovered.event.event_id]["visitor_key"] == ""
    for k in (key, early_key, pseudonymize(too_late, wr.secret)):
        wr.redis.delete(redis_keys.consent(k))


def test_anonymous_visitors_are_counted_by_a_daily_salted_hash(shared_run: WorkerRun) -> None:
    wr = shared_run
    same_person = [raw_event(None, 4) for _ in range(3)]  # same IP, UA and site
    other_person = raw_event(None, 5)
    wr.send_events([*same_person, other_person])
    ids = {e.event.event_id for e in [*same_person, other_person]}
    rows = _wait_rows(wr, ids)
    hashes = {r["event_id"]: r["anon_hash"] for r in rows}
    same = {hashes[e.event.event_id] for e in same_person}
    assert len(same) == 1 and len(next(iter(same))) == 16
    assert hashes[other_person.event.event_id] not in same
    ttl = wr.redis.ttl(redis_keys.daily_salt(datetime.now(UTC).date().isoformat()))
    assert 0 < ttl <= 48 * 3600


def _dead_letters(wr: WorkerRun) -> list[dict[str, Any]]:
    consumer = KafkaConsumer(
        bootstrap_servers=wr.settings.kafka_bootstrap.split(","), consumer_timeout_ms=2000
    )
    try:
        tp = TopicPartition(wr.topics.dead_letters, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        return [orjson.loads(m.value) for m in consumer]
    finally:
        consumer.close()


def test_invalid_events_are_dead_lettered_and_replay_refeeds_them(
    shared_run: WorkerRun,
) -> None:
    wr = shared_run
    wr.producer.send(wr.topics.raw_events, key=b"k", value=b'{"event": "not an event"}')
    wr.producer.flush()
    letters = wr.wait(lambda: _dead_letters(wr), "a dead letter")
    assert letters[0]["topic"] == wr.topics.raw_events
    assert letters[0]["reason"].startswith("invalid")
    # After a fix, a parked batch is valid again: replay sends it whole through the pipeline.
    visitor = visitors(1)[0]
    first, second = raw_event(visitor, 7), raw_event(visitor, 8)
    fixed = RawBatch(
        events=[first.event, second.event], facts=first.facts, received_at=datetime.now(UTC)
    )
    parked = {"reason": "bug 123", "topic": wr.topics.raw_events, "value": fixed.model_dump_json()}
    wr.producer.send(wr.topics.dead_letters, value=orjson.dumps(parked))
    # A parked batch of a subject erased since: replay must not bring it back.
    erased = raw_event(visitors(1)[0], 9)
    erased_key = pseudonymize(str(erased.event.visitor_id), wr.secret)
    wr.redis.set(redis_keys.suppressed(erased_key), b"1")
    gone = RawBatch(events=[erased.event], facts=erased.facts, received_at=datetime.now(UTC))
    letter = {"reason": "bug 123", "topic": wr.topics.raw_events, "value": gone.model_dump_json()}
    wr.producer.send(wr.topics.dead_letters, value=orjson.dumps(letter))
    wr.producer.flush()
    cli = [str(Path(sys.executable).parent / "consentstream"), "dlq", "replay"]
    try:
        out = subprocess.run(
            cli, env=wr.env, capture_output=True, text=True, timeout=60, check=True
        )
        assert "replayed 2," in out.stdout, out.stdout + out.stderr
        assert "left out as erased 1" in out.stdout, out.stdout
        ids = {first.event.event_id, second.event.event_id}
        wr.wait(lambda: len(_stored_for(wr, ids)) == 2, "the replayed batch")
        again = subprocess.run(
            cli, env=wr.env, capture_output=True, text=True, timeout=60, check=True
        )
        assert "replayed 1," in again.stdout  # only the still-invalid one, dead-lettered anew
        time.sleep(1)
        assert len(_stored_for(wr, ids)) == 2
        assert not _raw_messages_keyed(wr, erased_key.encode()), "the erased batch came back"
        assert not _stored_for(wr, {erased.event.event_id})
    finally:
        wr.redis.delete(redis_keys.suppressed(erased_key))


def _raw_messages_keyed(wr: WorkerRun, key: bytes) -> list[bytes]:
    consumer = KafkaConsumer(
        bootstrap_servers=wr.settings.kafka_bootstrap.split(","), consumer_timeout_ms=2000
    )
    try:
        parts = consumer.partitions_for_topic(wr.topics.raw_events) or set()
        tps = [TopicPartition(wr.topics.raw_events, p) for p in parts]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        return [m.value for m in consumer if m.key == key]
    finally:
        consumer.close()


def test_an_invalid_batch_is_dead_lettered_whole(shared_run: WorkerRun) -> None:
    wr = shared_run
    good = raw_event(None, 1)
    body = orjson.loads(
        RawBatch(
            events=[good.event], facts=good.facts, received_at=datetime.now(UTC)
        ).model_dump_json()
    )
    body["events"].append({"event_id": "not-a-uuid"})
    wr.producer.send(wr.topics.raw_events, key=b"k", value=orjson.dumps(body))
    wr.producer.flush()

    def parked() -> list[dict[str, Any]]:
        return [m for m in _dead_letters(wr) if str(good.event.event_id) in m["value"]]

    [letter] = wr.wait(parked, "the batch's dead letter")
    assert orjson.loads(letter["value"]) == body
    assert not _stored_for(wr, {good.event.event_id})


def test_single_event_messages_from_before_batches_are_still_stored(
    shared_run: WorkerRun,
) -> None:
    wr = shared_run
    events = [raw_event(None, n) for n in range(3)]
    wr.send_legacy_events(events)
    _wait_rows(wr, {e.event.event_id for e in events})


def test_nothing_raw_reaches_clickhouse_or_the_mirror(shared_run: WorkerRun) -> None:
    wr = shared_run
    visitor = visitors(1)[0]
    wr.send_consent(decision(visitor, datetime.now(UTC) - timedelta(minutes=1)))
    events = [raw_event(visitor, n) for n in range(4)] + [raw_event(None, n) for n in range(4)]
    wr.send_events(events)
    ids = {e.event.event_id for e in events}
    wr.wait(lambda: len(_stored_for(wr, ids)) == 8, "the events")
    dump = orjson.dumps(wr.rows(), default=str).decode()
    for raw in (*IPS, visitor, "secret-", UA):
        assert raw not in dump, raw
    key = pseudonymize(visitor, wr.secret)
    assert "198.51.100.0/24" in dump and key in dump
    mirror = wr.wait(lambda: wr.redis.get(redis_keys.consent(key)), "mirror")
    assert visitor.encode() not in mirror
    wr.redis.delete(redis_keys.consent(key))


class PrivateRedis:
    """A redis-server of this test's own, so it can be killed without touching the shared one."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.dir = tmp_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--save", "", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            probe = Redis.from_url(self.url)
            try:
                if probe.ping():
                    return
            except RedisError:  # ConnectionError until it listens
                time.sleep(0.1)
            finally:
                probe.close()
        raise AssertionError("private redis did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def test_redis_down_mid_stream_loses_nothing(stack: Any, tmp_path: Path) -> None:
    redis = PrivateRedis(tmp_path)
    redis.start()
    try:
        with isolated_run(
            stack, tmp_path / "run", partitions=2, CONSENTSTREAM_REDIS_URL=redis.url
        ) as wr:
            wr.start("worker")
            people = visitors(10)  # visitor ids: the suppression check needs Redis
            first = [raw_event(people[n % 10], n) for n in range(300)]
            wr.send_events(first)
            wr.wait(lambda: wr.counts()["distinct"] >= 300, "events before the outage")
            redis.kill()
            second = [raw_event(people[n % 10], n) for n in range(300)]
            wr.send_events(second)
            time.sleep(3)  # the worker meets the outage and must wait, not die
            assert wr.counts()["distinct"] == 300, "stored without the suppression check"
            redis.start()
            wr.wait(lambda: wr.counts()["distinct"] >= 600, "events after the outage")
            time.sleep(1)
            counts = wr.counts()
            assert counts["distinct"] == 600 and counts["final"] == 600, counts
    finally:
        redis.kill()


def test_cookie_events_record_what_was_set_before_consent(shared_run: WorkerRun) -> None:
    wr = shared_run
    page = f"/cookies/{secrets.token_hex(3)}"
    cookies = [
        {"name": "session", "category": "necessary"},
        {"name": "_ga_K9", "category": "analytics"},
        {"name": "tracker_x", "category": "unknown"},
    ]
    url = f"https://example.com{page}?ref=mail"
    before = raw_event(None, 1, type="cookie", cookies=cookies, page={"url": url})
    wr.send_events([before, before])  # the second as a client retry would be
    repo = Repository(wr.storage)

    def report() -> dict[str, Any]:
        return {r.cookie_name: r for r in repo.cookie_report() if r.page_path == page}

    rows = wr.wait(lambda: len(got := report()) == 3 and got, "cookie observations")
    assert not rows["session"].seen_before_consent and rows["session"].known
    assert rows["_ga_K9"].seen_before_consent and rows["_ga_K9"].declared_category == "analytics"
    assert rows["tracker_x"].seen_before_consent and not rows["tracker_x"].known


def _consent_records(wr: WorkerRun, key: bytes) -> list[bytes | None]:
    consumer = KafkaConsumer(
        bootstrap_servers=wr.settings.kafka_bootstrap.split(","), consumer_timeout_ms=2000
    )
    try:
        parts = consumer.partitions_for_topic(wr.topics.consent) or set()
        tps = [TopicPartition(wr.topics.consent, p) for p in parts]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        return [m.value for m in consumer if m.key == key]
    finally:
        consumer.close()


def _erase(wr: WorkerRun, key: str) -> dict[str, Any]:
    """File a verified deletion of ``key`` as the API would, run it, return the signed result."""
    repo = Repository(wr.storage)
    now = datetime.now(UTC)
    request_id = uuid.uuid4().hex
    repo.save_privacy_request(
        PrivacyRequestRow(
            request_id=request_id,
            type="deletion",
            subject_key=key,
            status="verified",
            created_at=now,
            updated_at=now,
            deadline=now + timedelta(days=30),
            result="",
            version=1,
        )
    )
    job = PrivacyJob(request_id=request_id, type="deletion", subject_key=key)
    wr.producer.send(wr.topics.privacy_jobs, key=key.encode(), value=job.model_dump_json().encode())
    wr.producer.flush()
    done = wr.wait(
        lambda: (r := repo.get_privacy_request(request_id)) and r.status == "done" and r,
        "the deletion to finish",
    )
    signed: dict[str, Any] = orjson.loads(done.result)
    return signed


def test_a_deletion_job_erases_the_subject_and_tombstones_its_decisions(
    shared_run: WorkerRun,
) -> None:
    wr = shared_run
    subject = visitors(1)[0]
    key = pseudonymize(subject, wr.secret)
    wr.send_consent(decision(subject, datetime.now(UTC) - timedelta(minutes=1)))
    events = [raw_event(subject, n) for n in range(3)]
    wr.send_events(events)
    _wait_rows(wr, {e.event.event_id for e in events})
    wr.wait(lambda: wr.redis.get(redis_keys.consent(key)), "the mirror")
    wr.wait(lambda: wr.redis.hlen(redis_keys.consent_history(key)), "the consent history")
    repo = Repository(wr.storage)
    wr.wait(lambda: repo.count_subject(key)["consent_ledger"], "the ledger row")
    signed = _erase(wr, key)
    signer = ReceiptSigner(wr.settings.receipt_signing_key.get_secret_value())
    assert verify_file(signed, signer.public).valid, "the receipt verifies with the public key"
    receipt = signed["receipt"]
    assert receipt["verified_zero"], receipt
    assert repo.count_subject(key) == {"usage_events": 0, "consent_ledger": 0}
    stores = receipt["stores"]
    assert stores["clickhouse.usage_events"] == {"before": 3, "after": 0}, receipt
    assert stores["clickhouse.consent_ledger"] == {"before": 1, "after": 0}, receipt
    assert stores["redis.consent"] == {"before": 1, "after": 0}, receipt
    assert stores["redis.consent-history"] == {"before": 1, "after": 0}, receipt
    assert set(stores) == {f"clickhouse.{t}" for t in sql.SUBJECT_TABLES} | {
        f"redis.{kind}"
        for kind in {**redis_keys.ERASED_SUBJECT_KINDS, **redis_keys.ERASED_DECISION_KINDS}
    }
    kept = receipt["kept"]
    assert kept["clickhouse.privacy_requests"]["count"] == 1, "the request itself is kept"
    assert kept["redis.suppressed"]["count"] == 1
    assert {f"clickhouse.{t}" for t in sql.KEPT_TABLES} <= set(kept)
    assert wr.redis.get(redis_keys.consent(key)) is None
    assert not wr.redis.exists(redis_keys.consent_history(key))
    records = wr.wait(lambda: (got := _consent_records(wr, key.encode())) and got, "records")
    assert records[-1] is None, "the subject's decisions are not tombstoned"
    assert not [d for d in _dead_letters(wr) if key in d.get("value", "")]
    late = raw_event(subject, 9)
    other = raw_event(None, 9)
    wr.send_events([late, other])
    _wait_rows(wr, {other.event.event_id})
    assert not _stored_for(wr, {late.event.event_id})
    wr.redis.delete(redis_keys.suppressed(key))


def _same_partition_visitor(wr: WorkerRun, key: str) -> str:
    """Another visitor whose consent lands on ``key``'s partition, so it is read after it."""
    partitions = wr.settings.topic_partitions
    want = (murmur2(key.encode()) & 0x7FFFFFFF) % partitions
    while True:
        other = visitors(1)[0]
        mine = pseudonymize(other, wr.secret).encode()
        if (murmur2(mine) & 0x7FFFFFFF) % partitions == want:
            return other


def test_late_consent_after_an_erasure_leaves_nothing(shared_run: WorkerRun) -> None:
    wr = shared_run
    subject = visitors(1)[0]
    key = pseudonymize(subject, wr.secret)
    repo = Repository(wr.storage)
    wr.send_consent(decision(subject, datetime.now(UTC) - timedelta(minutes=2)))
    wr.wait(lambda: repo.count_subject(key)["consent_ledger"], "the first decision recorded")
    assert _erase(wr, key)["receipt"]["verified_zero"]
    # A decision still on its way (a slow beacon, a retry) arrives after the erasure; a
    # decision of another visitor behind it on the same partition shows it was read.
    wr.send_consent(decision(subject, datetime.now(UTC)))
    marker = _same_partition_visitor(wr, key)
    marker_key = pseudonymize(marker, wr.secret)
    wr.send_consent(decision(marker, datetime.now(UTC)))
    wr.wait(lambda: repo.count_subject(marker_key)["consent_ledger"], "the marker recorded")
    wr.wait(lambda: wr.redis.get(redis_keys.consent(marker_key)), "the marker mirrored")
    try:
        assert repo.count_subject(key) == {"usage_events": 0, "consent_ledger": 0}
        assert wr.redis.get(redis_keys.consent(key)) is None, "no mirror written back"
        assert not wr.redis.exists(redis_keys.consent_history(key)), "no history written back"
    finally:
        wr.redis.delete(redis_keys.suppressed(key), redis_keys.consent(marker_key))
