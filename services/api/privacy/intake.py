"""Filing a privacy request is one step per subject across every API process.

Filing checks the subject's yearly access limit and the open requests, then saves the new one:
two processes doing that for one subject at the same moment could both pass the check. A Redis
lock per subject (the API already holds a Redis client for the audit chain's lock) makes the
check and the save one step. When Redis cannot be reached, or another filing for the subject
holds the lock too long, nothing is filed and the caller gets 503 with Retry-After.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from redis import Redis
from redis.exceptions import LockError, RedisError
from redis.lock import Lock

from consentstream import redis_keys

HOLD_SECONDS = 60.0
"""Longer than a filing takes (a ClickHouse read and write, the audit append, a Kafka send)."""
WAIT_SECONDS = 10.0


class IntakeUnavailable(Exception):
    """The subject's filing lock could not be had; nothing was filed."""


@asynccontextmanager
async def one_filing_at_a_time(redis: Redis, subject_key: str) -> AsyncIterator[None]:
    """Hold the subject's filing lock for the body of the ``async with``."""
    lock = Lock(
        redis,
        redis_keys.intake_lock(subject_key),
        timeout=HOLD_SECONDS,
        sleep=0.02,
        blocking_timeout=WAIT_SECONDS,
        thread_local=False,
    )
    try:
        acquired = await asyncio.to_thread(lock.acquire)
    except RedisError as exc:
        raise IntakeUnavailable("Redis is unreachable, so requests cannot be filed") from exc
    if not acquired:
        raise IntakeUnavailable("another request for this subject is being filed; retry")
    try:
        yield
    finally:
        with suppress(LockError, RedisError):  # expired or unreachable: it lapses on its own
            await asyncio.to_thread(lock.release)
