"""Answers of closed buckets are computed ahead of any ask, so the first ask reads them too.

``answers`` stores a closed bucket's k-anonymous answer the first time someone asks for it;
on 10M events that first ask costs seconds (a read of the range's events, per panel). The
warmer takes that cost off the request path: every ``usage_warm_seconds`` it stores the answer
of every closed bucket of the last ``usage_warm_days`` (hourly buckets: at most 31 days), for
every dimension and bucket size, that is not stored yet, and the consent panels' figures
(:mod:`services.api.consent_answers`) the same way. A run after the first one finds only
the buckets closed since (one hour, and a day or a week when one ended) and costs little.
Buckets answered before leads were kept (:mod:`services.api.leads`) get theirs from their
stored answer, once.

Ranges older than the window, and the open buckets at either end of a range, are still
computed when asked. Several API processes warming at once store the same rows twice, which
``usage_answers`` (ReplacingMergeTree) merges; nothing else is shared.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from consentstream.storage import sql
from consentstream.storage.errors import StorageError
from consentstream.storage.repository import Repository

from . import consent_answers
from .answers import LED, backfill_leads, closed_rows
from .buckets import Interval, floor_bucket
from .usage import HOURLY_MAX_DAYS

log = logging.getLogger(__name__)

INTERVALS: tuple[Interval, ...] = ("hour", "day", "week")


def warm(repo: Repository, k: int, closed_before: datetime, days: int) -> int:
    """Store the answers of closed buckets of the last ``days`` not stored yet; how many."""
    stored = 0
    for interval, (first, last) in _windows(closed_before, days):
        for dimension in sql.USAGE_DIMENSIONS:
            _, missing = closed_rows(repo, dimension, interval, (first, last), k)
            stored += missing
            if dimension in LED:  # buckets answered before leads were kept beside answers
                backfill_leads(repo, dimension, interval, (first, last), k)
    return stored


def warm_consent(repo: Repository, closed_before: datetime, days: int) -> int:
    """Store the consent panels' figures of closed buckets of the last ``days``; how many."""
    stored = 0
    for interval, (first, last) in _windows(closed_before, days):
        for panel in consent_answers.PANELS:
            stored += consent_answers.closed_rows(repo, panel, interval, (first, last))[1]
    return stored


def _windows(
    closed_before: datetime, days: int
) -> list[tuple[Interval, tuple[datetime, datetime]]]:
    """Per bucket size, the span of closed buckets to keep answered."""
    out = []
    for interval in INTERVALS:
        window = min(days, HOURLY_MAX_DAYS) if interval == "hour" else days
        last = floor_bucket(closed_before, interval)
        first = floor_bucket(closed_before - timedelta(days=window), interval)
        if first < last:
            out.append((interval, (first, last)))
    return out


async def run_periodically(
    repo: Repository, k: int, settle: timedelta, days: int, every_seconds: float
) -> None:
    """Warm now and then every ``every_seconds``, until cancelled."""
    while True:
        try:
            closed_before = datetime.now(UTC) - settle
            count = await asyncio.to_thread(warm, repo, k, closed_before, days)
            count += await asyncio.to_thread(warm_consent, repo, closed_before, days)
            if count:
                log.info("usage answers: stored %s newly closed buckets", count)
        except StorageError as exc:  # a down database must not end the schedule
            log.warning("usage answers: warming failed: %s", exc)
        await asyncio.sleep(every_seconds)
