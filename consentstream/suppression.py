"""The suppression list of erased subjects, as every path that writes for a subject checks it.

An erasure sets ``cs:suppressed:{<pseudonym>}`` first, then deletes. A writer racing it is
safe in one of two ways:

- a Redis write about the subject runs in one script with the check
  (:func:`set_unless_suppressed`): Redis runs the script before or after the erasure's flag,
  never between, and a write before the flag is then deleted by the erasure;
- a ClickHouse insert cannot share a script with Redis, so the writer checks before inserting
  and again after (:func:`suppressed_among`): a subject suppressed in between had its rows
  counted or deleted by the erasure, or not yet inserted, so the writer deletes them itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from redis import Redis as SyncRedis
from redis.asyncio import Redis

from . import redis_keys

_SET_UNLESS_SUPPRESSED = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
return 1
"""


async def set_unless_suppressed(
    redis: Redis, subject_key: str, name: str, value: str | bytes, ttl_seconds: int
) -> bool:
    """SET ``name`` (a key about ``subject_key``) unless the subject was erased; True if set.

    Both keys carry the subject's hash tag, so the script is one slot in Redis Cluster too.
    """
    [done] = await set_all_unless_suppressed(redis, [(subject_key, name, value)], ttl_seconds)
    return done


async def set_all_unless_suppressed(
    redis: Redis, writes: Sequence[tuple[str, str, str | bytes]], ttl_seconds: int
) -> list[bool]:
    """:func:`set_unless_suppressed` for (subject, key, value) writes, in one round trip.

    Each write is its own script, so each stays atomic with its own subject's flag.
    """
    for subject_key, name, _ in writes:
        if redis_keys.tag_of(name) != subject_key:
            raise ValueError("the key written must be one about the same subject")
    if not writes:
        return []
    pipe = redis.pipeline(transaction=False)
    for subject_key, name, value in writes:
        flag = redis_keys.suppressed(subject_key)
        pipe.eval(_SET_UNLESS_SUPPRESSED, 2, flag, name, value, ttl_seconds)
    return [bool(done) for done in await pipe.execute()]


async def suppressed_among(redis: Redis, subject_keys: Iterable[str]) -> frozenset[str]:
    """Which of these subjects were erased: one pipelined round trip of single-key reads."""
    keys = sorted({key for key in subject_keys if key})
    if not keys:
        return frozenset()
    pipe = redis.pipeline(transaction=False)
    for key in keys:
        pipe.exists(redis_keys.suppressed(key))
    flags = await pipe.execute()
    return frozenset(key for key, flag in zip(keys, flags, strict=True) if flag)


def is_suppressed(redis: SyncRedis, subject_key: str) -> bool:
    """The same check for synchronous tools (the CLI's dead-letter replay)."""
    return bool(redis.exists(redis_keys.suppressed(subject_key)))
