"""event_id deduplication in Redis: set-if-absent with a TTL.

If Redis is down, every event counts as new: ingestion continues and the worker's
idempotent sink is the second line of defence.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError

from consentstream import redis_keys

log = logging.getLogger(__name__)


# One round trip and one reply for a whole batch: a pipeline of SETs costs the client ~2.5x
# more per event. Multi-key: on a Redis Cluster it runs once per hash tag of the batch's keys
# (at most 16, see redis_keys), concurrently, since a script may only touch one slot. The reply is
# one string of "1" (new) and "0" (seen), not an array: redis-py parses an array reply element
# by element in Python, which cost more than the script itself for a 50-event batch.
CLAIM_ALL = """
local claimed = {}
for i, key in ipairs(KEYS) do
  claimed[i] = redis.call('SET', key, '1', 'NX', 'EX', ARGV[1]) and '1' or '0'
end
return table.concat(claimed)
"""
NEW = ord("1")


async def claim(redis: Redis, event_ids: Sequence[str], ttl: int) -> list[bool]:
    """For each id, True if it was not seen before (and is now claimed)."""
    if not event_ids:
        return []
    keys = [redis_keys.dedupe(e) for e in event_ids]
    script = redis.register_script(CLAIM_ALL)
    everything = {"": list(range(len(keys)))}
    groups = redis_keys.group_by_tag(keys) if isinstance(redis, RedisCluster) else everything
    try:
        replies = await asyncio.gather(
            *(
                script(keys=[keys[i] for i in positions], args=[ttl])
                for positions in groups.values()
            )
        )
    except (RedisError, OSError) as exc:
        log.warning("dedupe unavailable, accepting all: %s", type(exc).__name__)
        return [True] * len(event_ids)
    claimed = [False] * len(keys)
    for positions, results in zip(groups.values(), replies, strict=True):
        reply: bytes = results.encode() if isinstance(results, str) else results
        for position, flag in zip(positions, reply, strict=True):
            claimed[position] = flag == NEW
    return claimed


async def release(redis: Redis, event_ids: Sequence[str]) -> None:
    """Forget claims whose events did not reach Kafka, so the client's retry is not a duplicate."""
    if not event_ids:
        return
    try:
        await redis.delete(*(redis_keys.dedupe(e) for e in event_ids))
    except (RedisError, OSError) as exc:
        log.warning("could not release dedupe keys: %s", type(exc).__name__)
