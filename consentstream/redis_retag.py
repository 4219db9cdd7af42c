"""One-off upgrade of Redis keys written before they carried hash tags.

Keys used to be ``cs:<kind>:<value>``; they are now ``cs:<kind>:{<value>}`` (see
:mod:`consentstream.redis_keys`). State that must outlive the upgrade is renamed in place, on
the single Redis it was written to, before the apps start on the new names: the suppression
flags of erased subjects above all, then consent in force, histories and day salts. Short-lived
keys (dedupe claims, rate-limit buckets, locks) simply expire.
"""

from __future__ import annotations

from redis.asyncio import Redis

from consentstream import redis_keys

KEPT_KINDS = ("suppressed", "consent", "consent-history", "salt")


async def retag(redis: Redis, value_prefix: str = "") -> int:
    """Rename every old-style key of the kept kinds to its tagged name; how many were renamed.

    ``value_prefix`` limits the work to values starting with it (tests share one Redis).
    Safe to run twice: tagged keys do not match the old pattern's shape and are left alone. An
    old key whose new name already exists is dropped (the new one was written later).
    """
    renamed = 0
    for kind in KEPT_KINDS:
        prefix = f"{redis_keys.PREFIX}{kind}:"
        async for raw in redis.scan_iter(match=f"{prefix}{value_prefix}*", count=1000):
            name = raw.decode() if isinstance(raw, bytes) else str(raw)
            value = name[len(prefix) :]
            if value.startswith("{"):
                continue
            if await redis.renamenx(name, redis_keys.key(kind, value)):
                renamed += 1
            else:
                await redis.delete(name)
    return renamed


SCHEMA_VERSION = "2"
"""Version of the Redis key layout: 2 is hash-tagged names."""


async def upgrade(redis: Redis) -> int | None:
    """Retag once per Redis: None when its layout marker says it is current, else the renames.

    ``consentstream migrate`` calls this on every run, so the marker keeps later runs from
    scanning every key again.
    """
    marker = redis_keys.key("schema", "redis")
    current = await redis.get(marker)
    if current in (SCHEMA_VERSION, SCHEMA_VERSION.encode()):
        return None
    renamed = await retag(redis)
    await redis.set(marker, SCHEMA_VERSION)
    return renamed
