"""The daily salt for anonymous visitor hashes, kept in Redis and destroyed after 48 h.

Every worker of a deployment must hash with the same salt on the same day, so the salt lives
in Redis (``SET NX`` by whichever worker asks first), with a 48 h TTL: after that the day's
hashes can no longer be recomputed or linked to anything (Plausible's scheme).
"""

from __future__ import annotations

import secrets
from datetime import datetime

from redis.asyncio import Redis

from consentstream import redis_keys

SALT_TTL_SECONDS = 48 * 3600


class DailySalt:
    """Fetches the UTC day's salt once per day per worker; creates it when absent."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._day = ""
        self._salt = ""

    async def for_time(self, now: datetime) -> str:
        """The salt of ``now``'s UTC day."""
        day = now.date().isoformat()
        if day != self._day:
            key = redis_keys.daily_salt(day)
            await self.redis.set(key, secrets.token_hex(16), nx=True, ex=SALT_TTL_SECONDS)
            value = await self.redis.get(key)
            self._salt = value.decode() if isinstance(value, bytes) else str(value or "")
            self._day = day
        return self._salt
