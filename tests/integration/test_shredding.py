"""Crypto-shredding on the real stack: the key store in Redis, and a worker process on Kafka.

Messages are sealed here as the collector seals them (its key store, its envelope) and go
straight to the topics; what the topics hold is read back with kafka-python and opened with the
key store, the way anyone holding a copy of the topics and the master key would try.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis as AsyncRedis

from consentstream.identity import pseudonymize
from consentstream.sealing import read_envelope, seal_message
from consentstream.shredding import KeyStore
from consentstream.storage.repository import Repository
from schemas.messages import PrivacyJob, RawBatch, RawEvent
from tests.e2e.processes import free_port
from tests.integration.test_collector import read_raw_records
from tests.integration.test_worker import (
    WorkerRun,
    _dead_letters,
    _serving,
    _stored_for,
    decision,
    isolated_run,
    metric,
    raw_event,
    visitors,
)
from tests.integration.test_worker_poison import file_request, wild_clock
from tests.sealed import opened

pytestmark = pytest.mark.integration

METRICS_PORT = free_port()
SHREDDED = "consentstream_worker_shredded_messages_total"


def store_call(wr: WorkerRun, call: str, subject: str) -> Any:
    """One :class:`KeyStore` call against the run's key store (a client of its own)."""

    async def run() -> Any:
        redis = AsyncRedis.from_url(wr.settings.keystore_redis_url)
        try:
            store = KeyStore(redis, wr.settings.master_key.get_secret_value())
            return await getattr(store, call)(subject)
        finally:
            await redis.aclose()

    return asyncio.run(run())


def send_sealed(wr: WorkerRun, topic: str, subject: str, documents: list[bytes]) -> None:
    """Seal each document under the subject's key, as the collector does, and produce it."""
    data_key = store_call(wr, "get_or_create", subject)
    for document in documents:
        value = seal_message(data_key, subject, document)
        wr.producer.send(topic, key=subject.encode(), value=value)
    wr.producer.flush()


def batch_of(raws: list[RawEvent]) -> bytes:
    first = raws[0]
    batch = RawBatch(
        events=[r.event for r in raws], facts=first.facts, received_at=first.received_at
    )
    return batch.model_dump_json().encode()


def subject_of(value: bytes) -> str | None:
    envelope = read_envelope(value)
    return envelope[0] if envelope else None


@pytest.fixture(scope="module")
def shred_run(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerRun]:
    """One worker on one partition with its /metrics served."""
    with isolated_run(stack, tmp_path_factory.mktemp("shred"), partitions=1) as wr:
        wr.start("shred", CONSENTSTREAM_WORKER_METRICS_PORT=str(METRICS_PORT))
        wr.wait(lambda: _serving(METRICS_PORT), "the worker's /metrics")
        yield wr


async def test_key_store_keeps_one_wrapped_key_per_subject_until_destroyed(stack: Any) -> None:
    subject = secrets.token_hex(16)
    redis = AsyncRedis.from_url(stack.keystore_redis_url)
    try:
        stores = [KeyStore(redis, stack.master_key.get_secret_value()) for _ in range(4)]
        keys = await asyncio.gather(*(s.get_or_create(subject) for s in stores))
        assert len(set(keys)) == 1, "racing writers got different keys for one subject"
        stored = await redis.get(stores[0].entry(subject))
        assert stored is not None and keys[0] not in stored, "the data key is stored unwrapped"
        assert await stores[1].get(subject) == keys[0]
        assert await stores[0].destroy(subject) is True
        assert await stores[1].get(subject) is None
        assert await stores[2].destroy(subject) is False
        renewed = await stores[3].get_or_create(subject)
        assert renewed != keys[0]
    finally:
        await redis.delete(stores[0].entry(subject))
        await redis.aclose()


def test_the_worker_drops_events_whose_key_is_gone_and_parks_none(shred_run: WorkerRun) -> None:
    wr = shred_run
    gone, kept = visitors(2)
    gone_key, kept_key = (pseudonymize(v, wr.secret) for v in (gone, kept))
    for v in (gone, kept):
        wr.send_consent(decision(v, datetime.now(UTC)))
    before = metric(METRICS_PORT, SHREDDED, f'topic="{wr.topics.raw_events}"')
    lost = [raw_event(gone, n) for n in range(3)]
    send_sealed(wr, wr.topics.raw_events, gone_key, [batch_of(lost)])
    assert store_call(wr, "destroy", gone_key) is True  # erased before the worker read them
    later = [raw_event(kept, n) for n in range(3)]
    send_sealed(wr, wr.topics.raw_events, kept_key, [batch_of(later)])
    ids = {e.event.event_id for e in later}
    wr.wait(lambda: len(_stored_for(wr, ids)) == 3, "the other visitor's events")
    wr.wait(
        lambda: metric(METRICS_PORT, SHREDDED, f'topic="{wr.topics.raw_events}"') >= before + 1,
        "the unreadable message counted",
    )
    assert not _stored_for(wr, {e.event.event_id for e in lost})
    parked = [m for m in _dead_letters(wr) if subject_of(m["value"].encode()) == gone_key]
    assert parked == [], "an erased subject's message was dead-lettered"


def test_erasure_leaves_the_subjects_kafka_copies_unreadable(shred_run: WorkerRun) -> None:
    wr = shred_run
    [visitor] = visitors(1)
    key = pseudonymize(visitor, wr.secret)
    grant = decision(visitor, datetime.now(UTC))
    send_sealed(wr, wr.topics.consent, key, [grant.model_dump_json().encode()])
    repo = Repository(wr.storage)
    wr.wait(lambda: repo.count_subject(key)["consent_ledger"] == 1, "the sealed decision")
    good = [raw_event(visitor, n) for n in range(2)]
    poison = wild_clock(raw_event(visitor, 7))
    send_sealed(wr, wr.topics.raw_events, key, [batch_of(good), poison.model_dump_json().encode()])
    wr.wait(lambda: len(_stored_for(wr, {e.event.event_id for e in good})) == 2, "good events")

    def letters() -> list[bytes]:
        return [
            m["value"].encode() for m in _dead_letters(wr) if subject_of(m["value"].encode()) == key
        ]

    [letter] = wr.wait(letters, "the poison event parked")
    assert poison.facts.ip not in letter.decode() and visitor not in letter.decode()
    assert RawEvent.model_validate_json(opened(letter) or b"") == poison  # readable, until...

    request_id = file_request(repo, key, "deletion")
    job = PrivacyJob(request_id=request_id, type="deletion", subject_key=key)
    wr.producer.send(wr.topics.privacy_jobs, key=key.encode(), value=job.model_dump_json().encode())
    wr.producer.flush()
    done = wr.wait(
        lambda: (row := repo.get_privacy_request(request_id)) and row.status == "done" and row,
        "the deletion",
    )
    receipt = orjson.loads(done.result)
    assert receipt["receipt"]["kafka"]["data_key_destroyed"] is True
    assert set(receipt["receipt"]["kafka"]["topics"]) >= {
        wr.topics.raw_events,
        wr.topics.dead_letters,
    }

    copies = {
        topic: [value for _, value in read_raw_records(wr.settings.kafka_bootstrap, topic)]
        for topic in (wr.topics.raw_events, wr.topics.consent)
    }
    copies[wr.topics.dead_letters] = letters()
    for topic, values in copies.items():
        mine = [v for v in values if v and subject_of(v) == key]
        assert mine, f"no sealed copy of the subject on {topic}: the check proves nothing"
        assert all(opened(v, wr.env) is None for v in mine), f"a copy on {topic} still opens"
