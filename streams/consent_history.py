"""Each visitor's consent history, kept in Redis: what the pipeline reads before each take.

One hash per visitor (``cs:consent-history:{<pseudonym>}``), field = ``consent_id``, value = the
decision's snapshot as JSON. Writing a decision is one idempotent ``HSET``: a replay of the
consent topic, or two decisions arriving in either order, leave the same hash. The newest
``MAX_HISTORY`` decisions are kept, for ``consent_state_days`` after the latest one (the
visitor cookie, hence the pseudonym, does not outlive that).

Why Redis and not a Faust table backed by a changelog topic: on a restart with a changelog to
replay, faust-streaming 0.15 resumes the fetcher *before* it seeks the stream partitions to
their committed offsets (seen in our worker logs: "Resuming flow... Fetcher: Starting...
Seek stream partitions to committed offsets"; upstream faust-streaming issue 596), and the
restarted worker then intermittently stopped storing part of its input. Without tables Faust
takes its no-recovery path, which seeks first. Redis (AOF) already held the collector's
mirror of the decision in force; the history now sits beside it, keyed by the same pseudonym,
so an erasure deletes both, and the consent topic (compacted) and the ``consent_ledger``
table remain the records it can be rebuilt from.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from redis.asyncio import Redis

from consentstream import redis_keys
from consentstream.caching import expiring_lru_cache
from schemas.consent import (
    MAX_HISTORY,
    ConsentHistory,
    ConsentSnapshot,
    decode_history,
    encode_snapshot,
    snapshot_of_mirror,
)

# A visitor's three keys share its hash tag (one cluster slot), so one script reads them all:
# one command per visitor where three cost redis-py three times its per-command overhead.
# A missing key reads as '' (a Lua nil would cut the reply's array short).
_READ = """
local flag = redis.call('GET', KEYS[1]) or ''
local mirror = redis.call('GET', KEYS[2]) or ''
return {flag, mirror, redis.call('HGETALL', KEYS[3])}
"""


async def load(
    redis: Redis, keys: Iterable[str]
) -> tuple[frozenset[str], dict[str, ConsentHistory]]:
    """Suppressed subjects and consent histories (with the collector's mirror merged in).

    One round trip: per visitor one script reading its suppression flag, its mirror and its
    history, pipelined (each script's keys share the visitor's hash tag, as a Redis Cluster
    needs). Each history is decoded here, once per batch of events, not once per event, and
    the same stored values again from a cache (:func:`_history`).
    """
    keys = sorted(set(keys))
    if not keys:
        return frozenset(), {}
    pipe = redis.pipeline(transaction=False)
    for key in keys:
        names = (
            redis_keys.suppressed(key),
            redis_keys.consent(key),
            redis_keys.consent_history(key),
        )
        pipe.eval(_READ, 3, *names)
    suppressed: set[str] = set()
    histories: dict[str, ConsentHistory] = {}
    for key, (flag, mirror, flat) in zip(keys, await pipe.execute(), strict=True):
        if flag:
            suppressed.add(key)
        histories[key] = _history(mirror or None, tuple(flat[1::2]))
    return frozenset(suppressed), histories


# Keyed by the stored values only (never the visitor), and forgotten within the hour like
# every cache of values from personal data: a visitor's decisions are read again every take,
# and decoding them (the mirror through its pydantic model) was most of a take's Redis CPU.
@expiring_lru_cache(maxsize=65_536)
def _history(mirror: bytes | None, values: tuple[bytes, ...]) -> ConsentHistory:
    """The history of these hash values with the mirror's decision merged in."""
    return decode_history(values).with_decision(snapshot_of_mirror(mirror))


# Atomic with the erasure's suppression flag: a decision still in flight on the consent topic
# when its subject is erased must not re-create the history the erasure just deleted.
_ADD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return redis.call('HGETALL', KEYS[2])
"""


async def add(
    redis: Redis, key: str, snap: ConsentSnapshot, ttl_seconds: int
) -> ConsentHistory | None:
    """Record a decision (idempotent on its consent_id): the history after it, in time order.

    The history then lives ``ttl_seconds`` (``consent_state_days``) from this decision. None
    when the subject was erased (suppressed): nothing is written.
    """
    [history] = await add_all(redis, [(key, snap)], ttl_seconds)
    return history


async def add_all(
    redis: Redis, decisions: Sequence[tuple[str, ConsentSnapshot]], ttl_seconds: int
) -> list[ConsentHistory | None]:
    """:func:`add` for several (pseudonym, decision) pairs in one pipelined round trip.

    Each decision is its own script, atomic with its subject's suppression flag as in
    :func:`add`; they run in the given order, so a later decision's answer includes the earlier
    ones of the same visitor. A history past ``MAX_HISTORY`` is trimmed in a second round trip.
    """
    if not decisions:
        return []
    pipe = redis.pipeline(transaction=False)
    for key, snap in decisions:
        name = redis_keys.consent_history(key)
        value = encode_snapshot(snap)
        pipe.eval(_ADD, 2, redis_keys.suppressed(key), name, snap.consent_id, value, ttl_seconds)
    histories: list[ConsentHistory | None] = []
    trim: dict[str, list[bytes]] = {}
    for (key, _), flat in zip(decisions, await pipe.execute(), strict=True):
        if flat is None:
            histories.append(None)
            continue
        fields = dict(zip(flat[::2], flat[1::2], strict=True))
        history = decode_history(fields.values())
        histories.append(history)
        if len(fields) > MAX_HISTORY:
            kept = set(history.consent_ids())
            old = [f for f in fields if f.decode() not in kept]
            if old:
                trim[redis_keys.consent_history(key)] = old
    if trim:
        pipe = redis.pipeline(transaction=False)
        for name, old in trim.items():
            pipe.hdel(name, *old)
        await pipe.execute()
    return histories


async def forget(redis: Redis, key: str) -> int:
    """Delete a subject's history; how many decisions it held."""
    name = redis_keys.consent_history(key)
    pipe = redis.pipeline(transaction=True)
    pipe.hlen(name)
    pipe.delete(name)
    count, _ = await pipe.execute()
    return int(count)
