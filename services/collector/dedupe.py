"""event_id deduplication in Redis: set-if-absent with a TTL, and the suppression check with it.

If Redis is down, every event counts as new: ingestion continues and the worker's
idempotent sink is the second line of defence.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from consentstream import redis_keys

from . import lean_redis

log = logging.getLogger(__name__)


# One round trip and one reply for a whole batch: a pipeline of SETs costs the client ~2.5x
# more per event. Multi-key: on a Redis Cluster it runs once per hash tag of the batch's keys
# (at most 16, see redis_keys), concurrently, since a script may only touch one slot. The reply is
# one string of "1" (new) and "0" (seen), not an array: redis-py parsed an array reply element
# by element in Python, which cost more than the script itself for a 50-event batch.
# The first ARGV[2] keys are only read (EXISTS: the request's suppression flag), so the
# suppression check rides in the same round trip on a single Redis; their "1"/"0" lead the reply.
# With ARGV[3] (a wrapped data key; "" for none), the next key is the subject's data-key entry:
# unless the subject is suppressed, the entry is read, or set to ARGV[3] when empty, and the
# reply is {claims, entry} (entry "" when untouched). Reading the mark and making the key in one
# atomic step leaves no moment for an erasure to fall between them: it runs wholly before (the
# mark is seen, nothing is made) or after (its destructions take the key). The key is made only
# when a claim is new (something will be sealed with it) or when ARGV[4] is "1" (the claims run
# apart, on a cluster). On a single Redis the event ids come as one comma-joined ARGV[5] and the
# script spells their keys (ARGV[6] is the prefix, see dedupe_keys): packing 50 key arguments
# was the client's largest cost in the call.
CLAIM_ALL = """
local reply = {}
local checked = tonumber(ARGV[2]) or 0
local wrapped = ARGV[3]
if wrapped == '' then wrapped = nil end
local first = checked + 1
if wrapped then first = checked + 2 end
local fresh = false
local function claim(key)
  local new = redis.call('SET', key, '1', 'NX', 'EX', ARGV[1])
  fresh = fresh or new ~= false
  reply[#reply + 1] = new and '1' or '0'
end
for i = 1, checked do
  reply[i] = redis.call('EXISTS', KEYS[i]) == 1 and '1' or '0'
end
for i = first, #KEYS do
  claim(KEYS[i])
end
if ARGV[5] then
  for id in string.gmatch(ARGV[5], '[^,]+') do
    claim(ARGV[6] .. '{' .. string.lower(string.sub(id, 1, 1)) .. '}:' .. id)
  end
end
local claims = table.concat(reply)
if not wrapped then return claims end
local entry = ''
if reply[1] == '0' and (fresh or ARGV[4] == '1') then
  entry = redis.call('GET', KEYS[checked + 1])
  if not entry then
    redis.call('SET', KEYS[checked + 1], wrapped)
    entry = wrapped
  end
end
return {claims, entry}
"""
NEW = ord("1")
_claim_all: AsyncScript | None = None


def _claim_script(redis: Redis | RedisCluster) -> AsyncScript:
    """The claim script, made once: making it hashes its text, which every request would redo.
    Each call names its client, so the one it was first made with does not matter."""
    global _claim_all
    if _claim_all is None:
        _claim_all = redis.register_script(CLAIM_ALL)
    return _claim_all


@dataclass(frozen=True)
class Claimed:
    """Which of a request's event ids were new (now claimed), and whether its subject was erased.

    ``stored`` is what the subject's data-key entry held after the claim when a data key was
    offered (the offered one when it was made), None when the entry was left alone: the subject
    is erased, nothing was new, or Redis could not be asked.
    """

    fresh: list[bool]
    suppressed: bool
    stored: bytes | None = None


async def claim(redis: Redis, event_ids: Sequence[str], ttl: int) -> list[bool]:
    """For each id, True if it was not seen before (and is now claimed)."""
    return (await claim_checking(redis, event_ids, ttl, None)).fresh


async def claim_checking(
    redis: Redis,
    event_ids: Sequence[str],
    ttl: int,
    subject: str | None,
    data_key: tuple[str, bytes] | None = None,
) -> Claimed:
    """Claim the ids and read ``subject``'s suppression flag: one round trip on a single Redis.

    ``data_key`` (the subject's data-key entry in this Redis, and a wrapped key) makes the
    subject's key in the same step when they are live and none is there (see ``CLAIM_ALL``).
    On a cluster the flag (and the entry) live in the subject's slot, the claims in their own:
    the subject's part then runs beside the per-tag scripts, concurrently. Without Redis every
    id counts as new and the subject as live (the worker checks the list again before anything
    lands).
    """
    cluster = isinstance(redis, RedisCluster)
    joined = None if cluster else _joined(event_ids)
    keys = dedupe_keys(event_ids) if joined is None else list(event_ids)
    flag = [redis_keys.suppressed(subject)] if subject else []
    offer = data_key if flag else None
    own = flag + [offer[0]] if offer else flag
    own_args: list[int | bytes | str] = [ttl, len(flag), offer[1] if offer else b""]
    claims: list[bytes | str] = []
    try:
        if cluster:
            script = partial(_claim_script(redis), client=redis)
            groups = redis_keys.group_by_tag(keys)
            calls = [
                script(keys=[keys[i] for i in positions], args=[ttl, 0])
                for positions in groups.values()
            ]
            calls += [script(keys=own, args=[*own_args, 1])] if flag else []
            replies = await asyncio.gather(*calls)
            positions = [p for group in groups.values() for p in group]
            subject_reply = replies[len(groups) :]
            claims = replies[: len(groups)]
        elif keys or flag:
            spelled: list[int | bytes | str] = [0, joined, DEDUPE_PREFIX] if joined else []
            on_keys = [] if joined else keys
            # Below redis-py's command path (see lean_redis): this call is on every request.
            script_keys, script_args = own + on_keys, own_args + spelled
            call = lean_redis.evalsha(redis, _claim_script(redis), script_keys, script_args)
            subject_reply = [await call]
            positions = list(range(len(keys)))
        else:
            return Claimed([], False)
    except (RedisError, OSError) as exc:
        log.warning("dedupe unavailable, accepting all: %s", type(exc).__name__)
        return Claimed([True] * len(keys), False)
    stored = None
    if offer:  # {claims, entry}: the entry after this step, "" when left alone
        subject_reply, stored = [subject_reply[0][0]], _bytes(subject_reply[0][1]) or None
    reply = b"".join(_bytes(r) for r in subject_reply + claims)
    claimed = [False] * len(keys)
    for position, bit in zip(positions, reply[len(flag) :], strict=True):
        claimed[position] = bit == NEW
    return Claimed(claimed, bool(flag) and reply[0] == NEW, stored)


DEDUPE_PREFIX = f"{redis_keys.PREFIX}dedupe:"


def dedupe_keys(event_ids: Sequence[str]) -> list[str]:
    """:func:`redis_keys.dedupe` of each id, spelled inline (50 calls cost ~25 us a request)."""
    return [
        redis_keys.dedupe(e) if e[:1] in "{}" else f"{DEDUPE_PREFIX}{{{e[:1].lower()}}}:{e}"
        for e in event_ids
    ]


def _joined(event_ids: Sequence[str]) -> str | None:
    """The ids as one argument for the script to spell their keys (as :func:`dedupe_keys`
    does), or None when one could not travel so: empty, or holding a comma, a brace or a
    non-ASCII first character (Lua's ``lower`` is ASCII only). Event ids are UUID texts."""
    joined = ",".join(event_ids)
    plain = (
        joined.isascii()
        and joined.count(",") == len(event_ids) - 1
        and "{" not in joined
        and "}" not in joined
        and "" not in event_ids
    )
    return joined if plain and event_ids else None


def _bytes(reply: bytes | str) -> bytes:
    return reply.encode() if isinstance(reply, str) else reply


async def release(redis: Redis, event_ids: Sequence[str]) -> None:
    """Forget claims whose events did not reach Kafka, so the client's retry is not a duplicate."""
    if not event_ids:
        return
    try:
        await redis.delete(*(redis_keys.dedupe(e) for e in event_ids))
    except (RedisError, OSError) as exc:
        log.warning("could not release dedupe keys: %s", type(exc).__name__)
