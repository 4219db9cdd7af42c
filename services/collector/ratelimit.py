"""Per-client token bucket in Redis, shared by every collector process.

Buckets are keyed by a keyed hash of the client IP, never the raw address (no IP in Redis). If Redis
is unreachable the request is let through: abuse control must never stop ingestion.
"""

from __future__ import annotations

import logging
import math
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from consentstream import redis_keys
from consentstream.identity import sign

log = logging.getLogger(__name__)

# KEYS[1] bucket; ARGV rate (tokens/s), burst, now (s); returns {allowed, seconds to wait}.
TOKEN_BUCKET = """
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed, wait = 0, (1 - tokens) / rate
if tokens >= 1 then
  tokens, allowed, wait = tokens - 1, 1, 0
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(wait)}
"""


def bucket_of(ip: str, key: str) -> str:
    """The bucket name of a client: a keyed hash of its IP, useless without the server key."""
    return sign(b"ratelimit:" + ip.encode(), key)[:22]


class RateLimiter:
    """``rate`` requests per second per client on average, up to ``burst`` at once."""

    def __init__(self, redis: Redis, rate: float, burst: int, key: str) -> None:
        self._script = redis.register_script(TOKEN_BUCKET)
        self._rate = rate
        self._burst = burst
        self._key = key

    @property
    def enabled(self) -> bool:
        """A rate of zero or less turns the limit off."""
        return self._rate > 0 and self._burst > 0

    async def retry_after(self, ip: str) -> int | None:
        """None when the request may proceed, else whole seconds until it may."""
        if not self.enabled:
            return None
        bucket = redis_keys.rate_limit(bucket_of(ip, self._key))
        try:
            allowed, wait = await self._script(
                keys=[bucket], args=[self._rate, self._burst, time.time()]
            )
        except (RedisError, OSError) as exc:
            log.warning(
                "rate limit unavailable, letting the request through: %s", type(exc).__name__
            )
            return None
        if int(allowed):
            return None
        return max(1, math.ceil(float(wait)))
