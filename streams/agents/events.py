"""The events agent: raw messages → pipeline → ClickHouse, stored before the next take."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Annotated

import faust
import orjson
from pydantic import Field, TypeAdapter, ValidationError

from schemas.fast_messages import AnyRawEvent, fast_raw_events
from schemas.messages import RawBatch, RawEvent
from schemas.rows import USAGE_EVENT_ID, CookieObservationRow, UsageEventValues

from .. import consent_history, pipeline
from ..clients import WorkerClients
from ..inserts import batch_token, chunks, insert_isolating
from ..late_writes import undo_if_erased_meanwhile
from ..retry import redis_retry
from ..takes import steady_takes

log = logging.getLogger(__name__)

# The collector produces RawBatch; a RawEvent is what it produced before (still on the topic
# during an upgrade, or replayed from the dead letters). Left to right: a batch is tried first.
RAW_MESSAGE: TypeAdapter[RawBatch | RawEvent] = TypeAdapter(
    Annotated[RawBatch | RawEvent, Field(union_mode="left_to_right")]
)


def decode_raw(value: bytes) -> RawBatch | RawEvent:
    """A raw-topic message, parsed by orjson and validated from Python objects.

    ~20% less CPU than pydantic's own ``validate_json`` on the same messages
    (``python -m bench.processor.decode``); the same schema, so the same events and errors.
    """
    return RAW_MESSAGE.validate_python(orjson.loads(value))


def raw_events_of(message: RawBatch | RawEvent) -> list[RawEvent]:
    """The events a raw-topic message carries, each with its request's facts."""
    return message.raw_events() if isinstance(message, RawBatch) else [message]


def decode_raw_events(value: bytes) -> list[AnyRawEvent]:
    """The events of a raw-topic message: msgspec from the bytes first, the models on refusal.

    The fast path (``schemas.fast_messages``) accepts only what the models accept and reads it
    alike, at a fraction of their CPU; anything else is parsed by orjson and validated by the
    models as before, so a bad message raises their ``ValidationError`` (or orjson's error) and
    is dead-lettered with their wording.
    """
    fast = fast_raw_events(value)
    if fast is not None:
        return list(fast)
    return list(raw_events_of(RAW_MESSAGE.validate_python(orjson.loads(value))))


@dataclass
class Take:
    """What one take collects besides its rows: cookie sightings and the events to park."""

    cookies: list[CookieObservationRow] = field(default_factory=list)
    parked: list[tuple[AnyRawEvent, str]] = field(default_factory=list)


class EventsAgent:
    """Stores the raw topic's events; ``process_events`` is the Faust agent."""

    def __init__(self, clients: WorkerClients) -> None:
        self.clients = clients
        self.settings = clients.settings
        self.metrics = clients.metrics

    async def process_events(self, stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        """Raw messages → pipeline → ClickHouse inserts, all stored before the next take.

        A take is at most ``sink_batch_size`` messages (each up to a request's events), inserted
        in chunks of at most ``sink_batch_size`` rows. Rows are never carried over to a later
        take: a take is acknowledged when the agent asks for the next one, so a crash must find
        them unstored and re-read them. The next take fills while this one is stored
        (:func:`~streams.takes.steady_takes`), so a worker catching up never waits for one.
        """
        s = self.settings
        async for values in steady_takes(stream, s.sink_batch_size, s.sink_flush_seconds):
            self.metrics.taken.inc(len(values))
            works = await self._decode(values)
            await self._store(works)
            yield None

    async def _decode(self, values: list[bytes]) -> list[pipeline.Work]:
        """One work per event; a message that does not validate is dead-lettered whole."""
        works = []
        opened = await self.clients.unsealer.open_all(values, self.clients.topics.names.raw_events)
        for value, plain in zip(values, opened, strict=True):
            if plain is None:
                continue  # its subject's key was destroyed: erased, counted by the unsealer
            try:
                raws = decode_raw_events(plain)
            except (ValidationError, orjson.JSONDecodeError) as exc:
                self.metrics.dropped.labels("invalid").inc()
                count = exc.error_count() if isinstance(exc, ValidationError) else 1
                reason = f"invalid: {count} errors"
                await self.clients.dead_letter(value, reason, self.clients.topics.names.raw_events)
                continue
            vid: str | None = None
            key = ""
            for raw in raws:
                if raw.event.visitor_id != vid:  # a request's events share it: once a message
                    vid = raw.event.visitor_id
                    key = self.clients.pseudonym(vid) if vid else ""
                works.append(pipeline.Work(raw, key, raw.event.ts))  # positional: half the cost
        return works

    async def _context(self, works: list[pipeline.Work]) -> pipeline.Context:
        """Consent histories (Redis, mirror merged in), the suppression list and the day's salt."""
        s = self.settings
        redis = self.clients.redis
        keys = {w.visitor_key for w in works if w.visitor_key}
        suppressed, histories = await redis_retry(
            "read", partial(consent_history.load, redis, keys)
        )
        salt = self.clients.salt
        return pipeline.Context(
            histories,
            suppressed,
            keep_ip=s.keep_ip_prefix,
            anonymous_events=s.anonymous_events,
            grace=timedelta(seconds=s.consent_grace_seconds),
            salt=await redis_retry("salt", lambda: salt.for_time(datetime.now(UTC))),
            catalogue=self.clients.catalogue,
            window=s.event_time_window,
        )

    async def _store(self, works: list[pipeline.Work]) -> None:
        """Run the pipeline over a take's events and insert what it keeps, all before returning.

        Events go through in chunks of ``sink_batch_size``: while one chunk's rows are being
        inserted (a thread, then ClickHouse's own CPU) the next chunk runs through the pipeline.
        Events that are bad in themselves (the pipeline says so, or storage refuses their row)
        are dead-lettered one by one; the rest are stored.
        """
        ctx = await self._context(works)
        take = Take()
        inserting: asyncio.Task[None] | None = None
        try:
            for part in chunks(works, self.settings.sink_batch_size):
                rows, raws = self._kept_rows(part, ctx, take)
                if inserting is not None:
                    await inserting
                storing = self._insert_events(rows, raws, take) if rows else None
                inserting = asyncio.create_task(storing) if storing else None
                await asyncio.sleep(0)  # let the insert reach its thread before the next chunk
        finally:
            if inserting is not None:
                await inserting
        stored_for = {w.visitor_key for w in works if w.visitor_key} - ctx.suppressed
        await undo_if_erased_meanwhile(self.clients.redis, self.clients.repo, stored_for)
        if take.cookies:
            merged = pipeline.merge_observations(take.cookies)
            # A refused sighting (logged there) is not an event: nothing to park or replay.
            insert = self.clients.repo.insert_cookie_observations
            await insert_isolating("insert cookies", insert, merged)
        raw_topic = self.clients.topics.names.raw_events
        for raw, reason in take.parked:
            if (sealed := self.clients.unsealer.reseal(raw, raw_topic)) is not None:
                await self.clients.dead_letter(sealed, reason, raw_topic)

    def _kept_rows(
        self, works: list[pipeline.Work], ctx: pipeline.Context, take: Take
    ) -> tuple[list[UsageEventValues], list[AnyRawEvent]]:
        """The pipeline over some events: the rows it keeps and their events (drops counted,
        cookies collected)."""
        rows: list[UsageEventValues] = []
        raws: list[AnyRawEvent] = []
        for work in works:
            try:
                if work.raw.event.cookies:  # only these yield sightings: no call per event
                    take.cookies.extend(pipeline.observe_cookies(work, ctx))
                result = pipeline.run_values(work, ctx)
            except Exception as exc:  # a bug met by one odd event must not stop every visitor's
                log.exception("pipeline failed on one event")
                result = pipeline.Dropped("error", type(exc).__name__, dead_letter=True)
            if isinstance(result, pipeline.Dropped):
                self.metrics.dropped.labels(result.reason).inc()
                if result.dead_letter:
                    take.parked.append((work.raw, f"{result.reason}: {result.detail}"))
            else:
                rows.append(result)
                raws.append(work.raw)
        return rows, raws

    async def _insert_events(
        self, rows: list[UsageEventValues], raws: list[AnyRawEvent], take: Take
    ) -> None:
        """Insert rows, retried until stored, each insert under a token naming its rows.

        A refused row parks its event (``raws`` holds each row's, in the same order).
        """
        refused = await insert_isolating("insert events", self._insert_rows, rows)
        if refused:
            raw_of = {row[USAGE_EVENT_ID]: raw for row, raw in zip(rows, raws, strict=True)}
        for item in refused:
            self.metrics.dropped.labels("refused").inc()
            take.parked.append((raw_of[item.row[USAGE_EVENT_ID]], item.reason))
        self.metrics.stored.inc(len(rows) - len(refused))

    def _insert_rows(self, rows: list[UsageEventValues]) -> None:
        repo = self.clients.repo
        # A server without insert tokens (18.16) relies on ReplacingMergeTree alone: the token
        # (sorting and hashing every id, ~0.3 µs a row) would be made only to be dropped.
        use = repo.storage.features.insert_dedup_token
        token = batch_token([row[USAGE_EVENT_ID] for row in rows]) if use else None
        repo.insert_usage_events(rows, token)
