"""The collector's one Redis round trip per request, on the shared single Redis.

The dedupe claims and the cookie subject's suppression flag travel in one script; each id and
subject here is fresh, so the test shares Redis with other runs safely.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from consentstream import redis_keys
from consentstream.settings import CommonSettings
from services.collector import dedupe

pytestmark = pytest.mark.integration


@pytest.fixture(name="redis")
async def redis_fixture(common_settings: CommonSettings) -> AsyncIterator[Redis]:
    client = Redis.from_url(common_settings.redis_url)
    yield client
    await client.aclose()


async def test_one_script_claims_ids_once_and_reads_the_subjects_flag(redis: Redis) -> None:
    erased, live = uuid.uuid4().hex, uuid.uuid4().hex
    await redis.set(redis_keys.suppressed(erased), b"1", ex=60)
    ids = [str(uuid.uuid4()) for _ in range(5)]
    assert await dedupe.claim_checking(redis, ids, 60, erased) == dedupe.Claimed(
        [True] * 5, suppressed=True
    )
    retry = [*ids[:2], str(uuid.uuid4())]
    assert await dedupe.claim_checking(redis, retry, 60, live) == dedupe.Claimed(
        [False, False, True], suppressed=False
    )
    assert await dedupe.claim_checking(redis, [], 60, erased) == dedupe.Claimed([], True)
    assert not await redis.exists(redis_keys.suppressed(live))  # only read, never written
    await redis.delete(*(redis_keys.dedupe(i) for i in [*ids, *retry]))


async def test_without_redis_every_id_is_new_and_the_subject_live() -> None:
    """The guarantee of the two calls before: ingestion goes on; the worker checks again."""
    down = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    try:
        answer = await dedupe.claim_checking(down, ["a", "b"], 60, uuid.uuid4().hex)
    finally:
        await down.aclose()
    assert answer == dedupe.Claimed([True, True], suppressed=False)


async def test_the_claim_makes_a_live_visitors_data_key_beside_the_flag(redis: Redis) -> None:
    """A key offered is stored when the entry is empty, the stored one returned when not; an
    erased subject, or a request with nothing new, leaves the entry alone."""
    live, erased, idle = uuid.uuid4().hex, uuid.uuid4().hex, uuid.uuid4().hex
    entries = {s: redis_keys.data_key(s, "test") for s in (live, erased, idle)}
    await redis.set(redis_keys.suppressed(erased), b"1", ex=60)
    ids = [str(uuid.uuid4()) for _ in range(3)]
    made = await dedupe.claim_checking(redis, ids, 60, live, (entries[live], b"\x00first"))
    assert made == dedupe.Claimed([True] * 3, suppressed=False, stored=b"\x00first")
    found = await dedupe.claim_checking(redis, ids[:1], 60, live, (entries[live], b"second"))
    assert found.stored is None, "nothing new to seal: the entry is not even read"
    fresh = str(uuid.uuid4())
    found = await dedupe.claim_checking(redis, [fresh], 60, live, (entries[live], b"second"))
    assert found == dedupe.Claimed([True], suppressed=False, stored=b"\x00first")
    assert await redis.get(entries[live]) == b"\x00first"
    gone = await dedupe.claim_checking(redis, ids[1:], 60, erased, (entries[erased], b"k"))
    assert gone == dedupe.Claimed([False, False], suppressed=True)
    other = str(uuid.uuid4())
    gone = await dedupe.claim_checking(redis, [other], 60, erased, (entries[erased], b"k"))
    assert gone == dedupe.Claimed([True], suppressed=True)
    idle_claim = await dedupe.claim_checking(redis, ids, 60, idle, (entries[idle], b"k"))
    assert idle_claim == dedupe.Claimed([False] * 3, suppressed=False)
    assert not await redis.exists(entries[erased], entries[idle])
    await redis.delete(*entries.values(), *(redis_keys.dedupe(i) for i in [*ids, fresh, other]))


async def test_keys_the_script_spells_are_the_ones_release_deletes(redis: Redis) -> None:
    """Ids travel as one argument and the script spells their keys: the same names as
    ``redis_keys.dedupe``, so a release frees them; ids that cannot travel so take the keys."""
    ids = [str(uuid.uuid4()).upper(), str(uuid.uuid4()), f"odd,{uuid.uuid4()}"]
    assert await dedupe.claim(redis, ids[:2], 60) == [True, True]
    assert await dedupe.claim(redis, ids, 60) == [False, False, True]
    assert await redis.exists(*(redis_keys.dedupe(i) for i in ids)) == 3
    await dedupe.release(redis, ids)
    assert await dedupe.claim(redis, ids, 60) == [True] * 3
    await dedupe.release(redis, ids)
