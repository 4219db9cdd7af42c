"""Writers racing an erasure, on the real Redis and ClickHouse: what they write does not stay.

The erasure sets the subject's suppression flag, then counts and deletes. A Redis write about
the subject runs in one script with the check; a ClickHouse insert that passed the check before
the flag was set is undone by the writer's check after it.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from consentstream import redis_keys
from consentstream.settings import CommonSettings
from consentstream.storage import Storage
from consentstream.storage.repository import Repository
from consentstream.suppression import (
    set_all_unless_suppressed,
    set_unless_suppressed,
    suppressed_among,
)
from streams.late_writes import undo_if_erased_meanwhile

from .storage_fixtures import consent, usage_event

pytestmark = pytest.mark.integration


@pytest.fixture
async def redis(stack: CommonSettings) -> AsyncIterator[Redis]:
    client = Redis.from_url(stack.redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def key() -> str:
    return f"test-suppression-{secrets.token_hex(8)}"


async def test_a_mirror_write_after_the_flag_is_refused(redis: Redis, key: str) -> None:
    name = redis_keys.consent(key)
    try:
        assert await set_unless_suppressed(redis, key, name, b"{}", 60)
        await redis.delete(name)  # the erasure: flag, then delete
        await redis.set(redis_keys.suppressed(key), b"1")
        assert not await set_unless_suppressed(redis, key, name, b"{}", 60)
        assert await redis.get(name) is None
        assert await suppressed_among(redis, [key, key + "-other", ""]) == {key}
        with pytest.raises(ValueError, match="same subject"):
            await set_unless_suppressed(redis, key, redis_keys.consent(key + "x"), b"{}", 60)
    finally:
        await redis.delete(name, redis_keys.suppressed(key))


async def test_a_takes_mirror_writes_skip_only_the_erased_subject(redis: Redis, key: str) -> None:
    live, erased = key + "-live", key + "-erased"
    names = [redis_keys.consent(live), redis_keys.consent(erased)]
    await redis.set(redis_keys.suppressed(erased), b"1")
    try:
        writes = [(live, names[0], b"{}"), (erased, names[1], b"{}")]
        assert await set_all_unless_suppressed(redis, writes, 60) == [True, False]
        assert await redis.get(names[0]) == b"{}"
        assert await redis.get(names[1]) is None
        with pytest.raises(ValueError, match="same subject"):
            await set_all_unless_suppressed(redis, [(live, names[1], b"{}")], 60)
    finally:
        await redis.delete(*names, redis_keys.suppressed(erased))


async def test_rows_inserted_while_an_erasure_ran_are_deleted_by_the_writer(
    redis: Redis, storage: Storage, key: str
) -> None:
    repo = Repository(storage)
    other = key + "-other"
    # The writer checked (not suppressed) before the erasure; the erasure then set the flag,
    # counted and deleted nothing of this batch, which the writer inserts only now.
    await redis.set(redis_keys.suppressed(key), b"1")
    try:
        repo.insert_consents([consent(key), consent(other)])
        repo.insert_usage_events([usage_event(key), usage_event(other)])
        assert repo.count_subject(key) == {"usage_events": 1, "consent_ledger": 1}
        undone = await undo_if_erased_meanwhile(redis, repo, [key, other, ""])
        assert undone == 1
        assert repo.count_subject(key) == {"usage_events": 0, "consent_ledger": 0}
        assert repo.count_subject(other) == {"usage_events": 1, "consent_ledger": 1}
    finally:
        await redis.delete(redis_keys.suppressed(key))
