"""Carrying out verified privacy requests: access reports and deletions with receipts.

Deletion first destroys the subject's data key (crypto-shredding every sealed copy in Kafka and
its backups), then adds the subject to the suppression list (so events and decisions still in
flight never land), destroys the data key again (one a request made in between), removes it
from every ClickHouse table and every Redis key kind holding its data, and returns the receipt
body: per store the count before and after, and what is kept and why. The stores come from the
declarations next to the data (``sql.SUBJECT_TABLES``, ``sql.KEPT_TABLES``, the kinds in
``redis_keys``), so a new table or key kind declared there is in the next receipt. The caller
signs the body (:mod:`consentstream.receipt_signing`).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from redis.asyncio import Redis

from consentstream import receipts, redis_keys
from consentstream.storage.repository import Repository

from .retry import redis_retry, with_retry

Forget = Callable[[str], Awaitable[int]]
Shred = Callable[[str], Awaitable[dict[str, Any]]]
"""Destroys a subject's data key; the receipt's ``kafka`` entry (see ``WorkerClients.shred``)."""
Counts = dict[str, int]


def _now() -> str:
    return datetime.now(UTC).isoformat()


async def access_report(repo: Repository, subject_key: str) -> dict[str, Any]:
    """Every stored row about the subject, per table."""
    rows = await with_retry("access", repo.subject_rows, subject_key)
    return {"generated_at": _now(), "subject_key": subject_key, "data": rows}


def subject_redis_keys(subject_key: str, consent_ids: list[str]) -> dict[str, list[str]]:
    """Per erased Redis kind, the keys about the subject (by pseudonym or by consent id)."""
    keys = {kind: [name(subject_key)] for kind, name in redis_keys.ERASED_SUBJECT_KINDS.items()}
    for kind, name in redis_keys.ERASED_DECISION_KINDS.items():
        keys[kind] = [name(consent_id) for consent_id in sorted(set(consent_ids))]
    return keys


async def _count_keys(redis: Redis, keys: dict[str, list[str]]) -> Counts:
    """How many of each kind's keys exist; one key per EXISTS, as Redis Cluster needs."""
    counts: Counts = {}
    for kind, names in keys.items():
        counts[f"redis.{kind}"] = sum([int(await redis.exists(name)) for name in names])
    return counts


async def _delete_keys(redis: Redis, keys: dict[str, list[str]]) -> None:
    for names in keys.values():
        for name in names:
            await redis.delete(name)


async def _consent_ids(repo: Repository, redis: Redis, subject_key: str) -> list[str]:
    """The subject's consent ids: in the ledger, and in its history (not yet in the ledger)."""
    ledger = await with_retry("consent ids", repo.subject_consent_ids, subject_key)
    history = await redis_retry(
        "history ids", lambda: redis.hkeys(redis_keys.consent_history(subject_key))
    )
    return ledger + [f.decode() if isinstance(f, bytes) else str(f) for f in history]


async def _kept_counts(repo: Repository, redis: Redis, subject_key: str) -> Counts:
    """What the erasure keeps about the subject, per store (the receipt says why)."""
    tables = await with_retry("kept", repo.count_kept, subject_key)
    kept = {f"clickhouse.{table}": n for table, n in tables.items()}
    for kind, name in redis_keys.KEPT_SUBJECT_KINDS.items():
        kept[f"redis.{kind}"] = int(
            await redis_retry("kept", partial(redis.exists, name(subject_key)))
        )
    return kept


async def _shred_around_mark(redis: Redis, subject_key: str, shred: Shred) -> dict[str, Any]:
    """Destroy the data key, set the suppression mark, destroy the key again: the receipt's
    ``kafka`` section, ``data_keys_destroyed`` counting both destructions.

    A request that read the subject as live before the mark may make a new key after the first
    destruction; the second one destroys it. A key made after the mark is destroyed by the
    collector itself, which reads the mark again whenever it had to make a key.
    """
    first = await redis_retry("shred", partial(shred, subject_key))
    await redis_retry("suppress", lambda: redis.set(redis_keys.suppressed(subject_key), b"1"))
    again = await redis_retry("shred", partial(shred, subject_key))
    destroyed = sum(int(bool(s.get("data_key_destroyed"))) for s in (first, again))
    return {**first, "data_key_destroyed": destroyed > 0, "data_keys_destroyed": destroyed}


async def erase(
    repo: Repository,
    redis: Redis,
    subject_key: str,
    forget_state: Forget,
    *,
    shred: Shred,
    **sections: Any,
) -> dict[str, Any]:
    """Delete the subject everywhere and return the receipt body (unsigned).

    ``shred`` destroys the subject's data key first: every sealed copy in Kafka (and backups)
    is unreadable from that instant, before the rows go; its answer is the ``kafka`` section.
    It runs again right after the suppression mark is set (see :func:`_shred_around_mark`).

    ``forget_state`` drops what the worker keeps about the subject besides these stores (the
    consent history, the consent topic's copies). ``sections`` are further receipt sections
    made by stores erased elsewhere (Kafka key destruction, service providers), as given.
    """
    started = _now()
    clock = time.monotonic()
    kafka = await _shred_around_mark(redis, subject_key, shred)
    keys = subject_redis_keys(subject_key, await _consent_ids(repo, redis, subject_key))
    before = await with_retry("count", repo.count_subject, subject_key)
    redis_before = await redis_retry("count", lambda: _count_keys(redis, keys))
    await with_retry("delete", repo.delete_subject, subject_key)
    await forget_state(subject_key)
    await redis_retry("delete", lambda: _delete_keys(redis, keys))
    after = await with_retry("verify", repo.count_subject, subject_key)
    redis_after = await redis_retry("count", lambda: _count_keys(redis, keys))
    stores = {f"clickhouse.{t}": {"before": n, "after": after.get(t, 0)} for t, n in before.items()}
    stores.update(
        {store: {"before": n, "after": redis_after[store]} for store, n in redis_before.items()}
    )
    return receipts.build(
        subject_key,
        started_at=started,
        finished_at=_now(),
        milliseconds=round((time.monotonic() - clock) * 1000),
        stores=stores,
        kept=await _kept_counts(repo, redis, subject_key),
        kafka=kafka,
        **sections,
    )
