"""The baseline the worker is judged against: raw aiokafka consume + ClickHouse insert.

JSON parse and a fixed row per event, no pipeline, through the same ``storage.insert`` as the
worker, into a copy of ``usage_events``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from consentstream.storage import sql
from consentstream.storage.base import Storage
from streams.config import WorkerSettings


def template_row() -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "event_id": uuid.uuid4(),
        "type": "pageview",
        "ts": now,
        "client_ts": now,
        "received_at": now,
        "visitor_key": "",
        "consent_id": "",
        "purposes": ["necessary"],
        "policy_version": "",
        "ip_prefix": "",
        "page_path": "/",
        "page_url": "",
        "page_title": "",
        "referrer_host": "",
        "browser_family": "",
        "browser_version": "",
        "os_family": "",
        "device_class": "",
        "language": "",
        "screen": "",
        "timezone": "",
        "props": "{}",
        "gpc": False,
        "dnt": False,
        "schema_version": 1,
        "anon_hash": "",
    }


@dataclass(frozen=True)
class BaselineRun:
    """Events/s of raw consume + insert, and its CPU per event (this process, insert included)."""

    rate: float
    cpu_per_event: float
    """CPU seconds per event over the timed part: a cost the box's load moves far less than
    the rate, so ``worker CPU / baseline CPU`` is a ratio that holds on a busy box too."""


async def baseline(s: WorkerSettings, storage: Storage, n: int, batch: int) -> BaselineRun:
    """aiokafka consume + clickhouse-driver insert, no pipeline: events/s and CPU per event.

    ``batch`` is in messages: each insert holds the events of that many messages. Both clocks
    start once the first fetch is parsed, as the worker's start at its first take.
    """
    consumer = AIOKafkaConsumer(
        s.topic_prefix + "events.raw",
        bootstrap_servers=s.kafka_bootstrap,
        group_id=f"{s.worker_app_id}-baseline",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    done = 0
    base = template_row()
    started = cpu_started = 0.0
    try:
        while done < n:
            records = await consumer.getmany(timeout_ms=1000, max_records=batch)
            rows: list[dict[str, Any]] = []
            for messages in records.values():
                for m in messages:
                    body = orjson.loads(m.value)
                    rows.extend(
                        {
                            **base,
                            "event_id": uuid.UUID(event["event_id"]),
                            "page_path": event["page"]["url"][:64],
                        }
                        for event in body["events"]
                    )
            if rows:
                if not started:
                    started, cpu_started = time.perf_counter(), time.process_time()
                await asyncio.to_thread(storage.insert, sql.USAGE_EVENTS, rows)
                await consumer.commit()
                done += len(rows)
    finally:
        await consumer.stop()
    return BaselineRun(
        rate=n / (time.perf_counter() - started),
        cpu_per_event=(time.process_time() - cpu_started) / n,
    )
