"""Rebuild the consent state Redis holds (histories and the decision in force) from the ledger.

The worker keeps each visitor's recent decisions in Redis, and the collector and worker mirror
the decision in force there (``streams/consent_history.py``). Redis persists them (AOF), but a
lost or replaced Redis would leave every visitor with no decision on record: events would be
stored necessary-only (fail closed) until each visitor chose again. ``consentstream consent
rebuild`` restores both from ``consent_ledger``, which records every decision:

- each visitor's history gets its newest ledger decisions, as many as the worker keeps
  (idempotent: a decision already there is written again unchanged);
- the mirror is set to the visitor's newest decision unless it already names one as new;
- erased (suppressed) subjects are skipped: their ledger rows are gone anyway, and nothing
  about them may come back;
- both keys expire ``consent_state_days`` after the visitor's newest decision, as if written
  then; a visitor whose newest decision is older than that is skipped (the visitor cookie, and
  so the pseudonym, has expired with it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import Any

from redis import Redis
from redis.typing import EncodableT, FieldT

from consentstream import redis_keys
from consentstream.storage.repository import Repository
from schemas.consent import (
    ConsentHistory,
    history_entries,
    in_force_of_ledger,
    snapshot_of_ledger,
    snapshot_of_mirror,
)


@dataclass
class Rebuilt:
    """What a rebuild wrote."""

    visitors: int = 0
    decisions: int = 0
    mirrors: int = 0
    skipped_erased: int = 0
    skipped_expired: int = 0


def _get_all(redis: Redis, names: list[str]) -> list[Any]:
    """GET of many keys in one round trip; unlike MGET also on a Redis Cluster (many slots)."""
    pipe = redis.pipeline(transaction=False)
    for name in names:
        pipe.get(name)
    return pipe.execute()


def rebuild(
    repo: Repository,
    redis: Redis,
    keep: timedelta,
    page: int = 1000,
    progress: Callable[[int], None] = lambda n: None,
) -> Rebuilt:
    """Write every visitor's ledger decisions back to Redis; ``progress`` gets visitors done.

    ``keep`` is ``consent_state_days``: how long the state lives after the newest decision.
    """
    done = Rebuilt()
    now = datetime.now(UTC)
    after = ""
    while keys := repo.ledger_visitors_after(after, page):
        after = keys[-1]
        flags = _get_all(redis, [redis_keys.suppressed(k) for k in keys])
        live = [k for k, flag in zip(keys, flags, strict=True) if not flag]
        done.skipped_erased += len(keys) - len(live)
        rows = repo.ledger_decisions_of(live)
        by_visitor = {k: list(g) for k, g in groupby(rows, key=lambda r: r["visitor_key"])}
        mirrors = _get_all(redis, [redis_keys.consent(k) for k in by_visitor])
        pipe = redis.pipeline(transaction=False)
        for (key, decisions), current in zip(by_visitor.items(), mirrors, strict=True):
            snaps = [snapshot_of_ledger(d) for d in decisions]
            newest = snaps[-1]
            ttl = int((newest.recorded_at + keep - now).total_seconds())
            if ttl <= 0:
                done.skipped_expired += 1
                continue
            entries = history_entries(ConsentHistory.of(snaps))
            history: dict[FieldT, EncodableT] = dict(entries.items())
            pipe.hset(redis_keys.consent_history(key), mapping=history)
            pipe.expire(redis_keys.consent_history(key), ttl)
            mirrored = snapshot_of_mirror(current)
            if mirrored is None or mirrored.recorded_at < newest.recorded_at:
                mirror = in_force_of_ledger(decisions[-1]).model_dump_json()
                pipe.set(redis_keys.consent(key), mirror, ex=ttl)
                done.mirrors += 1
            done.visitors += 1
            done.decisions += len(history)
        pipe.execute()
        _forget_erased_meanwhile(redis, list(by_visitor))
        progress(len(keys))
    return done


def _forget_erased_meanwhile(redis: Redis, keys: list[str]) -> None:
    """Delete what was just written for subjects erased since their flags were read.

    An erasure sets the flag before it deletes, so a write it did not delete is seen here.
    """
    if not keys:
        return
    flags = redis.mget([redis_keys.suppressed(k) for k in keys])
    for key, flag in zip(keys, flags, strict=True):
        if flag:
            redis.delete(redis_keys.consent(key), redis_keys.consent_history(key))
