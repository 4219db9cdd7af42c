"""The Faust worker: agents decode, run the pipeline, and sink or forward (STYLE: stream logic).

Topics are keyed by the visitor's pseudonym, so the consent decisions, the raw events and the
privacy jobs are co-partitioned and one worker sees everything about a visitor. The worker
keeps no Faust table: consent histories live in Redis (see ``consent_history`` for why).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache, partial
from typing import Annotated, Any, TypeVar

import faust
import orjson
from pydantic import Field, TypeAdapter, ValidationError
from redis.asyncio import Redis

from consentstream import redis_keys
from consentstream.identity import pseudonymize
from consentstream.storage import open_storage
from consentstream.storage.base import Storage
from consentstream.storage.repository import Repository
from consentstream.topics import Topics
from schemas.messages import ConsentDecision, PrivacyJob, RawBatch, RawEvent
from schemas.rows import (
    ConsentLedgerRow,
    CookieObservationRow,
    PrivacyRequestRow,
    UsageEventRow,
)

from . import consent_history, consent_mirror, pipeline, privacy_jobs
from .config import WorkerSettings
from .consent_state import ConsentSnapshot, is_latest
from .cookies import load_catalogue
from .metrics import WorkerMetrics
from .salts import DailySalt
from .sink import redis_retry, with_retry

log = logging.getLogger(__name__)
T = TypeVar("T")

# The collector produces RawBatch; a RawEvent is what it produced before (still on the topic
# during an upgrade, or replayed from the dead letters). Left to right: a batch is tried first.
RAW_MESSAGE: TypeAdapter[RawBatch | RawEvent] = TypeAdapter(
    Annotated[RawBatch | RawEvent, Field(union_mode="left_to_right")]
)


def raw_events_of(message: RawBatch | RawEvent) -> list[RawEvent]:
    """The events a raw-topic message carries, each with its request's facts."""
    return message.raw_events() if isinstance(message, RawBatch) else [message]


def chunks(items: list[T], size: int) -> list[list[T]]:
    """Events (or rows) in chunks of at most ``size``: an insert holds at most ``size`` rows."""
    return [items[i : i + size] for i in range(0, len(items), max(1, size))]


def ledger_row(decision: ConsentDecision, visitor_key: str) -> ConsentLedgerRow:
    """The consent ledger row of a decision: the pseudonym instead of the visitor id."""
    c = decision.choices
    return ConsentLedgerRow(
        consent_id=decision.consent_id,
        visitor_key=visitor_key,
        recorded_at=decision.recorded_at,
        necessary=True,
        analytics=c.analytics,
        marketing=c.marketing,
        preferences=c.preferences,
        policy_version=decision.policy_version,
        policy_hash=decision.policy_hash,
        banner_hash=decision.banner_hash,
        source=decision.source,
        gpc=decision.gpc,
        dnt=decision.dnt,
        gpc_applied=decision.gpc_applied,
    )


def batch_token(rows: list[UsageEventRow]) -> str:
    """Insert deduplication token naming the batch's content: its sorted event ids.

    A retried insert whose first attempt did land (a timeout after the server committed) is
    then a no-op where the engine has tokens; elsewhere ReplacingMergeTree merges the copy.
    """
    digest = hashlib.blake2b(digest_size=16)
    for event_id in sorted(row.event_id.bytes for row in rows):
        digest.update(event_id)
    return digest.hexdigest()


class Worker:
    """Holds the Faust app and the clients its agents share."""

    def __init__(self, settings: WorkerSettings, storage: Storage | None = None) -> None:
        self.settings = settings
        self.key = settings.pseudonym_key.get_secret_value()
        # An HMAC via `cryptography` costs ~40 us; a visitor sends many events in a row.
        self.pseudonym = lru_cache(maxsize=65_536)(partial(pseudonymize, key=self.key))
        self.topics = Topics(settings.topic_prefix)
        self.storage = storage or open_storage(settings.clickhouse_url)
        self.repo = Repository(self.storage)
        self.redis = Redis.from_url(settings.redis_url)
        self.metrics = WorkerMetrics()
        self.salt = DailySalt(self.redis)
        self.catalogue = load_catalogue(settings.cookie_catalogue_path)
        self.app = self._make_app()

    def _make_app(self) -> faust.App:
        s = self.settings
        app = faust.App(
            s.worker_app_id,
            broker=[f"kafka://{b.strip()}" for b in s.kafka_bootstrap.split(",")],
            store="memory://",
            datadir=s.worker_data_dir,
            web_enabled=False,
            topic_partitions=s.topic_partitions,
            topic_replication_factor=1,
            consumer_auto_offset_reset="earliest",
            producer_acks=-1,
            broker_commit_every=1000,
            broker_commit_interval=1.0,
            # Faust waits 60 s by default before a killed worker's partitions move on.
            broker_session_timeout=s.worker_session_timeout,
            broker_rebalance_timeout=s.worker_session_timeout,
            broker_heartbeat_interval=min(3.0, s.worker_session_timeout / 3),
            stream_buffer_maxsize=max(4096, s.sink_batch_size * 2),
        )
        partitions = s.topic_partitions
        raw = app.topic(
            self.topics.raw_events,
            value_serializer="raw",
            key_serializer="raw",
            partitions=partitions,
            retention=timedelta(hours=s.raw_retention_hours),
        )
        consent = app.topic(
            self.topics.consent,
            value_serializer="raw",
            key_serializer="raw",
            partitions=partitions,
            compacting=True,
        )
        jobs = app.topic(
            self.topics.privacy_jobs,
            value_serializer="raw",
            key_serializer="raw",
            partitions=partitions,
        )
        self.dead_letters = app.topic(self.topics.dead_letters, value_serializer="raw")
        app.agent(raw, name="process_events")(self.process_events)
        app.agent(consent, name="track_consent")(self.track_consent)
        app.agent(consent, name="record_consent")(self.record_consent)
        app.agent(jobs, name="run_privacy_jobs")(self.run_privacy_jobs)
        return app

    async def _dead_letter(self, value: bytes, reason: str, source: str) -> None:
        """Park a message with the reason and the topic it came from (``dlq replay`` reads it)."""
        body = {"reason": reason, "topic": source, "value": value.decode("utf-8", "replace")}
        await self.dead_letters.send(value=orjson.dumps(body))
        self.metrics.dead_lettered.labels(source).inc()

    async def _decode_events(self, values: list[bytes]) -> list[pipeline.Work]:
        """One work per event; a message that does not validate is dead-lettered whole."""
        works = []
        for value in values:
            try:
                message = RAW_MESSAGE.validate_json(value)
            except ValidationError as exc:
                self.metrics.dropped.labels("invalid").inc()
                reason = f"invalid: {exc.error_count()} errors"
                await self._dead_letter(value, reason, self.topics.raw_events)
                continue
            for raw in raw_events_of(message):
                vid = raw.event.visitor_id
                key = self.pseudonym(vid) if vid else ""
                works.append(pipeline.Work(raw=raw, visitor_key=key, ts=raw.event.ts))
        return works

    async def _context(self, works: list[pipeline.Work]) -> pipeline.Context:
        """Consent histories (Redis, mirror merged in), the suppression list and the day's salt."""
        s = self.settings
        keys = {w.visitor_key for w in works if w.visitor_key}
        suppressed, histories = await redis_retry(
            "read", partial(consent_history.load, self.redis, keys)
        )
        return pipeline.Context(
            histories,
            suppressed,
            keep_ip=s.keep_ip_prefix,
            anonymous_events=s.anonymous_events,
            grace=timedelta(seconds=s.consent_grace_seconds),
            salt=await redis_retry("salt", lambda: self.salt.for_time(datetime.now(UTC))),
            catalogue=self.catalogue,
        )

    async def process_events(self, stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        """Raw messages → pipeline → ClickHouse inserts, all stored before the next take.

        A take is at most ``sink_batch_size`` messages (each up to a request's events), inserted
        in chunks of at most ``sink_batch_size`` rows. Rows are never carried over to a later
        take: Faust acknowledges a take when the agent asks for the next one, so a crash must
        find them unstored and re-read them. (A take of ``sink_batch_size // 10`` messages, which
        fills its buffer far more often, lost events to kill -9 in tests/faults: kept as it was.)
        """
        s = self.settings
        async for values in stream.take(s.sink_batch_size, within=s.sink_flush_seconds):
            self.metrics.taken.inc(len(values))
            works = await self._decode_events(list(values))
            await self._store(works)
            yield None

    async def _store(self, works: list[pipeline.Work]) -> None:
        """Run the pipeline over a take's events and insert what it keeps, all before returning.

        Events go through in chunks of ``sink_batch_size``: while one chunk's rows are being
        inserted (a thread, then ClickHouse's own CPU) the next chunk runs through the pipeline.
        """
        ctx = await self._context(works)
        cookies: list[CookieObservationRow] = []
        inserting: asyncio.Task[None] | None = None
        try:
            for part in chunks(works, self.settings.sink_batch_size):
                rows = self._kept_rows(part, ctx, cookies)
                if inserting is not None:
                    await inserting
                inserting = asyncio.create_task(self._insert_events(rows)) if rows else None
                await asyncio.sleep(0)  # let the insert reach its thread before the next chunk
        finally:
            if inserting is not None:
                await inserting
        if cookies:
            merged = pipeline.merge_observations(cookies)
            await with_retry("insert cookies", self.repo.insert_cookie_observations, merged)

    def _kept_rows(
        self,
        works: list[pipeline.Work],
        ctx: pipeline.Context,
        cookies: list[CookieObservationRow],
    ) -> list[UsageEventRow]:
        """The pipeline over some events: the rows it keeps (drops counted, cookies collected)."""
        rows: list[UsageEventRow] = []
        for work in works:
            cookies.extend(pipeline.observe_cookies(work, ctx))
            result = pipeline.run(work, ctx)
            if isinstance(result, pipeline.Dropped):
                self.metrics.dropped.labels(result.reason).inc()
            else:
                rows.append(result)
        return rows

    async def _insert_events(self, rows: list[UsageEventRow]) -> None:
        """One insert, retried until stored, under a token naming its rows."""
        await with_retry("insert events", self.repo.insert_usage_events, rows, batch_token(rows))
        self.metrics.stored.inc(len(rows))

    async def track_consent(self, stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        """Keep each visitor's consent history in Redis and the decision in force mirrored."""
        async for value in stream:
            if not value:
                continue  # a tombstone left by an erasure
            try:
                decision = ConsentDecision.model_validate_json(value)
            except ValidationError:
                continue  # record_consent dead-letters it
            if decision.visitor_id is None:
                continue  # anonymous: in the ledger, but no one's state to keep
            key = self.pseudonym(decision.visitor_id)
            snap = ConsentSnapshot.of(decision)
            history = await redis_retry(
                "history",
                partial(
                    consent_history.add, self.redis, key, snap, self.settings.consent_state_seconds
                ),
            )
            if history is not None and is_latest(history, decision.consent_id):
                await redis_retry("mirror", partial(self._mirror, key, decision))
            yield None

    async def _mirror(self, key: str, decision: ConsentDecision) -> None:
        """Write the decision in force to Redis for the collector, unless the subject was erased.

        Never replaces a newer decision the collector already mirrored (this agent may lag).
        """
        suppressed, current = await self.redis.mget(
            [redis_keys.suppressed(key), redis_keys.consent(key)]
        )
        if suppressed or not consent_mirror.is_newer(decision, current):
            return
        value = decision.in_force().model_dump_json()
        await self.redis.set(redis_keys.consent(key), value, ex=self.settings.consent_state_seconds)
        self.metrics.consent_mirrored.inc()

    async def record_consent(self, stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        """Write decisions to the consent ledger in batches."""
        s = self.settings
        async for values in stream.take(1000, within=s.sink_flush_seconds):
            rows = []
            for value in values:
                if not value:
                    continue  # a tombstone left by an erasure
                try:
                    decision = ConsentDecision.model_validate_json(value)
                except ValidationError as exc:
                    reason = f"invalid consent: {exc.error_count()} errors"
                    await self._dead_letter(value, reason, self.topics.consent)
                    continue
                vid = decision.visitor_id
                rows.append(ledger_row(decision, self.pseudonym(vid) if vid else ""))
            if rows:
                await with_retry("ledger", self.repo.insert_consents, rows)
            yield None

    async def _forget_state(self, subject_key: str) -> int:
        """Drop the subject's consent history, and tombstone its decisions on the consent topic.

        The consent topic is compacted and its values carry the raw visitor id; a tombstone
        under the subject's key lets compaction remove them (the agents skip tombstones).
        """
        had = await redis_retry("forget", partial(consent_history.forget, self.redis, subject_key))
        await self.app.producer.send_and_wait(
            self.topics.consent, subject_key.encode(), None, None, None, None
        )
        return had

    async def run_privacy_jobs(self, stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        """Access and deletion jobs, one at a time, each ending with a stored result."""
        async for value in stream:
            job = PrivacyJob.model_validate_json(value)
            await self._run_job(job)
            yield None

    async def _run_job(self, job: PrivacyJob) -> None:
        request = await with_retry("load request", self.repo.get_privacy_request, job.request_id)
        if request is None or request.status in ("done", "on_hold", "rejected"):
            return
        request = await self._save(request, "running", "")
        result: dict[str, Any]
        if job.type == "deletion":
            result = await privacy_jobs.erase(
                self.repo, self.redis, job.subject_key, self._forget_state
            )
        else:
            result = await privacy_jobs.access_report(self.repo, job.subject_key)
        await self._save(request, "done", orjson.dumps(result, default=str).decode())

    async def _save(
        self, request: PrivacyRequestRow, status: str, result: str
    ) -> PrivacyRequestRow:
        now = datetime.now(UTC)
        row = request.model_copy(
            update={
                "status": status,
                "updated_at": now,
                "result": result,
                "version": request.version + 1,
            }
        )
        await with_retry("save", self.repo.save_privacy_request, row)
        return row
