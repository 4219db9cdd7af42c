"""The benchmark's input: settings of a run of its own, and a raw topic pre-loaded as the
collector fills it (one ``RawBatch`` per request of one visitor, a third of them anonymous,
the others' consent decisions on the consent topic)."""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer

from consentstream.identity import pseudonymize
from schemas.events import ConsentChoices, Event
from schemas.messages import ConsentDecision, RawBatch, RequestFacts
from streams.config import WorkerSettings

UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36"
)
IPS = ("192.0.2.10", "198.51.100.20", "203.0.113.30", "2001:db8::7")


def settings_for(run: str, partitions: int) -> tuple[WorkerSettings, dict[str, str]]:
    base = WorkerSettings(environment="test")  # for its addresses; the run gets real keys below
    server = base.clickhouse_url.rsplit("/", 1)[0]
    env = {
        "CONSENTSTREAM_TOPIC_PREFIX": f"bench{run}.",
        "CONSENTSTREAM_CLICKHOUSE_URL": f"{server}/cs_bench_{run}",
        "CONSENTSTREAM_WORKER_APP_ID": f"cs-bench-{run}",
        "CONSENTSTREAM_WORKER_DATA_DIR": f"/tmp/cs-bench-{run}",
        "CONSENTSTREAM_PSEUDONYM_KEY": secrets.token_urlsafe(32),
        "CONSENTSTREAM_RECEIPT_KEY": secrets.token_urlsafe(32),
        "CONSENTSTREAM_RECEIPT_SIGNING_KEY": secrets.token_urlsafe(32),
        "CONSENTSTREAM_AUDIT_KEY": secrets.token_urlsafe(32),
        "CONSENTSTREAM_MASTER_KEY": secrets.token_urlsafe(32),
        "CONSENTSTREAM_TOPIC_PARTITIONS": str(partitions),
        "CONSENTSTREAM_WORKER_METRICS_PORT": "0",
        "CONSENTSTREAM_LOG_LEVEL": "WARNING",
        # One process each unless a run asks for more (the N-process worker run below).
        "CONSENTSTREAM_WORKER_PROCESSES": "1",
        "CONSENTSTREAM_COLLECTOR_PROCESSES": "1",
    }
    prefix = "CONSENTSTREAM_"
    values = {k[len(prefix) :].lower(): v for k, v in env.items()}
    return WorkerSettings.model_validate(values), {**os.environ, **env}


def raw_batches(n: int, visitors: list[str], per_request: int) -> list[RawBatch]:
    """N events in requests of ``per_request``, each from one visitor (every third anonymous)."""
    now = datetime.now(UTC)
    out = []
    for r, start in enumerate(range(0, n, per_request)):
        visitor = visitors[r % len(visitors)] if r % 3 else None
        events = [
            Event.model_validate(
                {
                    "event_id": str(uuid.uuid4()),
                    "type": "pageview",
                    "ts": (now - timedelta(milliseconds=n - i)).isoformat(),
                    "visitor_id": visitor,
                    "page": {
                        "url": f"https://example.com/tariffs/{i % 40}?utm_source=news&id={i}",
                        "title": "Tariffs",
                        "referrer": "https://search.example.com/?q=power",
                    },
                    "browser": {"user_agent": UA, "language": "en-GB", "screen": "1920x1080"},
                    "props": {"plan": "basic"},
                }
            )
            for i in range(start, min(n, start + per_request))
        ]
        facts = RequestFacts(ip=IPS[r % len(IPS)], user_agent=UA)
        out.append(RawBatch(events=events, facts=facts, received_at=now))
    return out


def analytics_grant(visitor: str) -> ConsentDecision:
    """A visitor's analytics grant of a day ago: every identified visitor of the bench has one."""
    return ConsentDecision(
        consent_id=uuid.uuid4().hex,
        visitor_id=visitor,
        choices=ConsentChoices(analytics=True, marketing=False, preferences=False),
        policy_version="bench",
        policy_hash="bench",
        banner_hash="bench",
        source="bench",
        recorded_at=datetime.now(UTC) - timedelta(days=1),
        gpc=False,
        dnt=False,
        gpc_applied=False,
    )


Encoded = list[tuple[str | None, bytes, bytes]]
"""Raw messages ready to produce: visitor id (None: anonymous), first event's id, value."""


def encode_batches(batches: list[RawBatch]) -> Encoded:
    """The batches as the collector's messages, encoded once for every run that loads them.

    Encoding a 50-event batch with the models costs about a third of a millisecond: done while
    a worker is timed (the N-process run fills its topic then), it took the CPU from the
    workers being measured.
    """
    return [
        (
            batch.events[0].visitor_id,
            batch.events[0].event_id.bytes,
            batch.model_dump_json().encode(),
        )
        for batch in batches
    ]


async def preload(s: WorkerSettings, messages: Encoded, visitors: list[str]) -> None:
    """The visitors' analytics grants on the consent topic, then the messages on the raw one."""
    key = s.pseudonym_key.get_secret_value()
    producer = AIOKafkaProducer(
        bootstrap_servers=s.kafka_bootstrap, acks="all", linger_ms=20, max_batch_size=512 * 1024
    )
    await producer.start()
    try:
        for v in visitors:
            decision = analytics_grant(v)
            await producer.send(
                s.topic_prefix + "consent",
                key=pseudonymize(v, key).encode(),
                value=decision.model_dump_json().encode(),
            )
        pending = []
        for vid, first_id, value in messages:
            # As the collector keys them: the visitor's pseudonym, else the first event's id.
            k = pseudonymize(vid, key).encode() if vid else first_id
            pending.append(await producer.send(s.topic_prefix + "events.raw", key=k, value=value))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
