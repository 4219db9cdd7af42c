"""Keys written before the hash tags survive the upgrade under their tagged names."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from consentstream import redis_keys
from consentstream.redis_retag import retag
from consentstream.settings import CommonSettings

pytestmark = pytest.mark.integration


@pytest.fixture(name="redis")
async def redis_fixture(stack: CommonSettings) -> AsyncIterator[Redis]:
    client = Redis.from_url(stack.redis_url)
    yield client
    await client.aclose()


async def test_old_suppression_and_consent_keys_are_renamed_once(redis: Redis) -> None:
    run = f"retag-{uuid.uuid4().hex[:8]}-"
    erased, visitor = f"{run}erased", f"{run}visitor"
    await redis.set(f"cs:suppressed:{erased}", b"1")
    await redis.set(f"cs:consent:{visitor}", b'{"analytics": true}')
    await redis.hset(f"cs:consent-history:{visitor}", "c1", b"{}")
    try:
        assert await retag(redis, run) == 3
        assert await redis.get(redis_keys.suppressed(erased)) == b"1"
        assert await redis.get(redis_keys.consent(visitor)) == b'{"analytics": true}'
        assert await redis.hgetall(redis_keys.consent_history(visitor)) == {b"c1": b"{}"}
        assert not await redis.exists(f"cs:suppressed:{erased}", f"cs:consent:{visitor}")
        assert await retag(redis, run) == 0  # a second run changes nothing
        assert await redis.get(redis_keys.suppressed(erased)) == b"1"
    finally:
        await redis.delete(
            redis_keys.suppressed(erased),
            redis_keys.consent(visitor),
            redis_keys.consent_history(visitor),
        )
