"""Rate limits of the API, kept in Redis so every API process counts against the same buckets.

A limit is a token bucket: ``requests`` at once, refilled evenly over ``window_seconds``.
Buckets are named by a keyed hash of what they count (a visitor token, a subject, a key id or
an IP), never the value itself. Failed authentications only *take* from their bucket; every
attempt first *peeks* at it, so an IP that failed too often is turned away before its key is
looked up at all.

When Redis cannot be reached the request is let through (and a warning logged): the limits
protect the stores from floods; they are not what keeps a request authorised.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from consentstream import redis_keys
from consentstream.identity import sign

log = logging.getLogger(__name__)

# KEYS[1] bucket; ARGV count, window (s), now (s), cost (0 peeks, 1 takes);
# returns {allowed, seconds until a token is back}.
TOKEN_BUCKET = """
local count, window, now, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]),
  tonumber(ARGV[4])
local rate = count / window
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or count
local ts = tonumber(state[2]) or now
tokens = math.min(count, tokens + math.max(0, now - ts) * rate)
local allowed = 0
if tokens >= 1 then
  allowed = 1
  tokens = tokens - cost
end
if cost > 0 or state[1] then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000) + 1000)
end
return {allowed, tostring(math.max(0, 1 - tokens) / rate)}
"""


@dataclass(frozen=True)
class Limit:
    """``requests`` at once, refilled evenly over ``window_seconds``; 0 requests: no limit."""

    requests: int
    window_seconds: float


class Limiter:
    """Token buckets per (scope, who) in Redis, under a namespace of the deployment's own."""

    def __init__(self, redis: Redis, namespace: str, hash_key: str) -> None:
        self._script = redis.register_script(TOKEN_BUCKET)
        self._namespace = namespace
        self._hash_key = hash_key

    async def take(self, scope: str, who: str, limit: Limit) -> int | None:
        """Count one request: None when it may proceed, else whole seconds until one may."""
        return await self._run(scope, who, limit, 1)

    async def peek(self, scope: str, who: str, limit: Limit) -> int | None:
        """Like :meth:`take` without counting: is a token left in the bucket?"""
        return await self._run(scope, who, limit, 0)

    async def _run(self, scope: str, who: str, limit: Limit, cost: int) -> int | None:
        if limit.requests <= 0 or limit.window_seconds <= 0:
            return None
        name = sign(f"api-limit:{scope}:{who}".encode(), self._hash_key)[:22]
        bucket = redis_keys.api_limit(self._namespace, scope, name)
        args = [limit.requests, limit.window_seconds, time.time(), cost]
        try:
            allowed, wait = await self._script(keys=[bucket], args=args)
        except (RedisError, OSError) as exc:
            log.warning("rate limit %s unavailable, letting through: %s", scope, type(exc).__name__)
            return None
        return None if int(allowed) else max(1, math.ceil(float(wait)))
