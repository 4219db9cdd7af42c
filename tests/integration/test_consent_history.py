"""The worker's consent histories in Redis (streams.consent_history), on the real Redis."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from redis.asyncio import Redis

from consentstream import redis_keys
from consentstream.settings import CommonSettings
from streams import consent_history
from streams.consent_state import MAX_HISTORY, ConsentHistory, ConsentSnapshot, consent_at

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TTL = 400 * 86_400


@pytest.fixture
async def redis(stack: CommonSettings) -> AsyncIterator[Redis]:
    client = Redis.from_url(stack.redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def key() -> str:
    return f"test-history-{secrets.token_hex(8)}"


def snap(n: int, *purposes: str) -> ConsentSnapshot:
    return ConsentSnapshot(f"c{n:03d}", T0 + timedelta(minutes=n), ("necessary", *purposes), "v1")


async def test_decisions_are_kept_in_time_order_whatever_order_they_arrive_in(
    redis: Redis, key: str
) -> None:
    await consent_history.add(redis, key, snap(2), TTL)
    await consent_history.add(redis, key, snap(1, "analytics"), TTL)
    history = await consent_history.add(redis, key, snap(2), TTL)  # a replayed decision
    assert history is not None
    assert history.consent_ids() == ["c001", "c002"]
    # the history lives consent_state_days from the latest write, then goes
    assert TTL - 5 <= await redis.ttl(redis_keys.consent_history(key)) <= TTL
    suppressed, histories = await consent_history.load(redis, [key])
    assert suppressed == frozenset()
    hist = histories[key]
    assert consent_at(hist, T0 + timedelta(minutes=1, seconds=30)) == snap(1, "analytics")
    assert consent_at(hist, T0 + timedelta(minutes=3)) == snap(2)
    await consent_history.forget(redis, key)


async def test_only_the_newest_decisions_are_kept(redis: Redis, key: str) -> None:
    for n in range(MAX_HISTORY + 5):
        history = await consent_history.add(redis, key, snap(n), TTL)
    assert history is not None
    assert len(history) == MAX_HISTORY
    assert await redis.hlen(redis_keys.consent_history(key)) == MAX_HISTORY
    assert history.consent_ids()[0] == "c005"
    assert await consent_history.forget(redis, key) == MAX_HISTORY
    assert not await redis.exists(redis_keys.consent_history(key))


async def test_an_erased_subject_gets_no_history_back_from_a_late_decision(
    redis: Redis, key: str
) -> None:
    await redis.set(redis_keys.suppressed(key), b"1")
    try:
        assert await consent_history.add(redis, key, snap(1, "analytics"), TTL) is None
        assert not await redis.exists(redis_keys.consent_history(key))
        suppressed, histories = await consent_history.load(redis, [key])
        assert suppressed == {key}
        assert histories[key] == ConsentHistory()
    finally:
        await redis.delete(redis_keys.suppressed(key))


async def test_the_collectors_mirror_is_merged_and_junk_is_ignored(redis: Redis, key: str) -> None:
    await consent_history.add(redis, key, snap(1), TTL)
    await redis.hset(redis_keys.consent_history(key), "junk", b"{not json")
    mirror = {
        "consent_id": "c009",
        "choices": {"necessary": True, "analytics": True, "marketing": False, "preferences": False},
        "policy_version": "v2",
        "recorded_at": (T0 + timedelta(minutes=9)).isoformat(),
        "gpc_applied": False,
    }
    await redis.set(redis_keys.consent(key), orjson.dumps(mirror))
    try:
        _, histories = await consent_history.load(redis, [key, key])
        assert histories[key].consent_ids() == ["c001", "c009"]
        in_force = consent_at(histories[key], T0 + timedelta(minutes=10))
        assert in_force is not None and in_force.grants("analytics")
    finally:
        await redis.delete(redis_keys.consent(key), redis_keys.consent_history(key))


async def test_a_takes_decisions_land_together_and_an_erased_subjects_do_not(
    redis: Redis, key: str
) -> None:
    erased = f"{key}-erased"
    await redis.set(redis_keys.suppressed(erased), b"1")
    try:
        decisions = [(key, snap(2)), (erased, snap(1, "analytics")), (key, snap(1, "analytics"))]
        first, gone, last = await consent_history.add_all(redis, decisions, TTL)
        assert first is not None and first.consent_ids() == ["c002"]
        assert gone is None
        assert not await redis.exists(redis_keys.consent_history(erased))
        # a later decision's answer holds the earlier ones of the same visitor, in time order
        assert last is not None and last.consent_ids() == ["c001", "c002"]
        assert last.latest_is("c002")
    finally:
        await redis.delete(redis_keys.suppressed(erased), redis_keys.consent_history(key))
