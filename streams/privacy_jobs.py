"""Carrying out verified privacy requests: access reports and deletions with receipts.

Deletion first destroys the subject's data key (crypto-shredding every sealed copy in Kafka),
then removes the subject from every ClickHouse table holding its data and every Redis key
about it, adds it to the suppression list so in-flight events never land, and returns a receipt
with per-store counts before and after.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from redis.asyncio import Redis

from consentstream import redis_keys
from consentstream.storage.repository import Repository

from .retry import redis_retry, with_retry

Forget = Callable[[str], Awaitable[int]]
Shred = Callable[[str], Awaitable[dict[str, Any]]]
"""Destroys a subject's data key; the receipt's ``kafka`` entry (see ``WorkerClients.shred``)."""


def _now() -> str:
    return datetime.now(UTC).isoformat()


async def access_report(repo: Repository, subject_key: str) -> dict[str, Any]:
    """Every stored row about the subject, per table."""
    rows = await with_retry("access", repo.subject_rows, subject_key)
    return {"generated_at": _now(), "subject_key": subject_key, "data": rows}


async def _redis_counts(redis: Redis, subject_key: str) -> int:
    """Redis keys about the subject (the consent in force and the consent history)."""
    keys = (redis_keys.consent(subject_key), redis_keys.consent_history(subject_key))
    return int(await redis.exists(*keys))


async def erase(
    repo: Repository, redis: Redis, subject_key: str, forget_state: Forget, *, shred: Shred
) -> dict[str, Any]:
    """Delete the subject everywhere and return the receipt.

    ``shred`` destroys the subject's data key first: every sealed copy in Kafka (and backups)
    is unreadable from that instant, before the rows go.
    """
    started = _now()
    clock = time.monotonic()
    kafka = await redis_retry("shred", partial(shred, subject_key))
    await redis_retry("suppress", lambda: redis.set(redis_keys.suppressed(subject_key), b"1"))
    before = await with_retry("count", repo.count_subject, subject_key)
    redis_before = await redis_retry("count", lambda: _redis_counts(redis, subject_key))
    await with_retry("delete", repo.delete_subject, subject_key)
    await redis_retry("delete", lambda: redis.delete(redis_keys.consent(subject_key)))
    state_removed = await forget_state(subject_key)
    after = await with_retry("verify", repo.count_subject, subject_key)
    redis_after = await redis_retry("count", lambda: _redis_counts(redis, subject_key))
    stores = {f"clickhouse.{t}": {"before": n, "after": after.get(t, 0)} for t, n in before.items()}
    stores["redis.keys"] = {"before": redis_before, "after": redis_after}
    stores["redis.consent_history"] = {"before": state_removed, "after": redis_after}
    return {
        "subject_key": subject_key,
        "started_at": started,
        "finished_at": _now(),
        "seconds": round(time.monotonic() - clock, 3),
        "stores": stores,
        "verified_zero": all(s["after"] == 0 for s in stores.values()),
        "suppressed": True,
        "kafka": kafka,
    }
