"""event_id deduplication in Redis: set-if-absent with a TTL.

If Redis is down, every event counts as new: ingestion continues and the worker's
idempotent sink is the second line of defence.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError

from consentstream import redis_keys

log = logging.getLogger(__name__)


async def claim(redis: Redis, event_ids: Sequence[str], ttl: int) -> list[bool]:
    """For each id, True if it was not seen before (and is now claimed)."""
    if not event_ids:
        return []
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for event_id in event_ids:
                pipe.set(redis_keys.dedupe(event_id), b"1", nx=True, ex=ttl)
            results = await pipe.execute()
    except (RedisError, OSError) as exc:
        log.warning("dedupe unavailable, accepting all: %s", type(exc).__name__)
        return [True] * len(event_ids)
    return [bool(r) for r in results]


async def release(redis: Redis, event_ids: Sequence[str]) -> None:
    """Forget claims whose events did not reach Kafka, so the client's retry is not a duplicate."""
    if not event_ids:
        return
    try:
        await redis.delete(*(redis_keys.dedupe(e) for e in event_ids))
    except (RedisError, OSError) as exc:
        log.warning("could not release dedupe keys: %s", type(exc).__name__)
