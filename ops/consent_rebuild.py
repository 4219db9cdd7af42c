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
from schemas.events import ConsentChoices, ConsentInForce
from streams import consent_history, consent_mirror
from streams.consent_state import ConsentSnapshot

PURPOSES = ("analytics", "marketing", "preferences")


@dataclass
class Rebuilt:
    """What a rebuild wrote."""

    visitors: int = 0
    decisions: int = 0
    mirrors: int = 0
    skipped_erased: int = 0
    skipped_expired: int = 0


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def choices(row: dict[str, Any]) -> ConsentChoices:
    """The choices a ledger row records (one column per optional purpose)."""
    return ConsentChoices(necessary=True, **{p: bool(row[p]) for p in PURPOSES})


def snapshot(row: dict[str, Any]) -> ConsentSnapshot:
    """A ledger row as the decision the worker's history holds."""
    granted = choices(row).granted()
    return ConsentSnapshot(
        row["consent_id"], _utc(row["recorded_at"]), granted, row["policy_version"]
    )


def mirror_json(row: dict[str, Any]) -> str:
    """A ledger row as the decision in force, in the collector's shape."""
    return ConsentInForce(
        consent_id=row["consent_id"],
        choices=choices(row),
        policy_version=row["policy_version"],
        recorded_at=_utc(row["recorded_at"]),
        gpc_applied=bool(row["gpc_applied"]),
    ).model_dump_json()


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
        flags = redis.mget([redis_keys.suppressed(k) for k in keys])
        live = [k for k, flag in zip(keys, flags, strict=True) if not flag]
        done.skipped_erased += len(keys) - len(live)
        rows = repo.ledger_decisions_of(live)
        by_visitor = {k: list(g) for k, g in groupby(rows, key=lambda r: r["visitor_key"])}
        mirrors = redis.mget([redis_keys.consent(k) for k in by_visitor])
        pipe = redis.pipeline(transaction=False)
        for (key, decisions), current in zip(by_visitor.items(), mirrors, strict=True):
            newest = decisions[-1]
            ttl = int((_utc(newest["recorded_at"]) + keep - now).total_seconds())
            if ttl <= 0:
                done.skipped_expired += 1
                continue
            entries = consent_history.entries(snapshot(d) for d in decisions)
            history: dict[FieldT, EncodableT] = dict(entries.items())
            pipe.hset(redis_keys.consent_history(key), mapping=history)
            pipe.expire(redis_keys.consent_history(key), ttl)
            mirrored = consent_mirror.snapshot_of(current)
            if mirrored is None or mirrored.recorded_at < _utc(newest["recorded_at"]):
                pipe.set(redis_keys.consent(key), mirror_json(newest), ex=ttl)
                done.mirrors += 1
            done.visitors += 1
            done.decisions += len(history)
        pipe.execute()
        progress(len(keys))
    return done
