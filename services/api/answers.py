"""Answers for closed time buckets are computed once and then read (the 300 ms target).

A bucket is closed once it ended ``settle`` ago (late events have arrived by then). Its
k-anonymous answer (shown groups, the folded "other", and a ``done`` marker so an empty bucket
is known to be empty) is stored in ``usage_answers``; later queries read those rows and compute
live only the buckets not stored yet. The API asks only for whole closed buckets (see
:func:`services.api.buckets.whole_buckets`), so every bucket has one answer, whoever asks
and through whichever range: two answers never differ by part of a bucket.

Beside the answer of a bucket of a group dimension go its leads (``usage_leads``, see
:mod:`services.api.leads`), from which a top-N answer reads a few rows a bucket.

What is stored is the answer, never visitor keys: counts of at least k visitors (an "other"
under k is stored but withheld when read, as always). An erasure does not rewrite stored
answers of closed buckets: they are anonymous statistics; a closed bucket's figures stay what
they were when first asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from consentstream.storage import sql
from consentstream.storage.repository import Repository
from schemas.rows import UsageAnswerRow

from . import leads
from .buckets import (
    Interval,
    Span,
    bucket_starts,
    ceil_bucket,
    chunks,
    floor_bucket,
    next_bucket,
    stored_params,
)
from .top import keep_top, stored_top

# Dimensions whose answers may be cut to their top groups: they keep leads beside their answers.
LED = frozenset(sql.USAGE_DIMENSIONS) - {"all"}

Rows = list[dict[str, Any]]
# Missing buckets are computed a week of events at a time: a first ask (or the warmer's first
# run) over a long history then costs several short queries instead of one that times out.
CHUNK = timedelta(days=7)


@dataclass(frozen=True)
class Plan:
    """How to answer a range: live spans at the ends, and a span of whole closed buckets."""

    live: list[Span]
    closed: Span | None


def plan(start: datetime, end: datetime, interval: Interval, closed_before: datetime) -> Plan:
    """Split ``[start, end)``: whole buckets ending before ``closed_before`` may be stored."""
    first = ceil_bucket(start, interval)
    last = min(floor_bucket(end, interval), floor_bucket(closed_before, interval))
    if first >= last:
        return Plan([(start, end)], None)
    live = [span for span in ((start, first), (last, end)) if span[0] < span[1]]
    return Plan(live, (first, last))


def from_stored(rows: Rows) -> tuple[Rows, set[datetime]]:
    """Stored rows as query rows, and the buckets that are complete in the store."""
    done = {row["bucket"].astimezone(UTC) for row in rows if row["row_kind"] == "done"}
    answer = [
        {**row, "shown": int(row["row_kind"] == "group")}
        for row in rows
        if row["row_kind"] != "done" and row["bucket"].astimezone(UTC) in done
    ]
    return answer, done


def to_stored(
    rows: Rows, buckets: list[datetime], interval: Interval, dimension: str, k: int
) -> list[UsageAnswerRow]:
    """Live query rows of ``buckets`` as rows to store, with a done marker per bucket."""
    now = datetime.now(UTC).replace(microsecond=0)
    wanted = set(buckets)

    def row(bucket: datetime, kind: str, key: str, visitors: int, pageviews: int) -> UsageAnswerRow:
        return UsageAnswerRow.model_validate(
            {
                "bucket_size": interval,
                "dimension": dimension,
                "k": k,
                "bucket": bucket,
                "row_kind": kind,
                "key": key,
                "visitors": visitors,
                "pageviews": pageviews,
                "computed_at": now,
            }
        )

    out = [
        row(
            r["bucket"].astimezone(UTC),
            "group" if r["shown"] else "other",
            r["key"],
            int(r["visitors"]),
            int(r["pageviews"]),
        )
        for r in rows
        if r["bucket"].astimezone(UTC) in wanted
    ]
    return out + [row(bucket, "done", "", 0, 0) for bucket in buckets]


def answer(
    closed: Span,
    interval: Interval,
    stored: Rows,
    compute: Callable[[Span], Rows],
) -> tuple[Rows, list[datetime], Rows]:
    """Rows for the closed span: stored ones, plus live ones for buckets not stored yet.

    Returns the rows, the buckets that were missing, and the live rows computed for them
    (to be stored by the caller).
    """
    rows, done = from_stored(stored)
    missing = [b for b in bucket_starts(closed, interval) if b not in done]
    if not missing:
        return rows, [], []
    wanted = set(missing)
    live = [
        row
        for part in chunks((missing[0], next_bucket(missing[-1], interval)), interval, CHUNK)
        for row in compute(part)
    ]
    fresh = [r for r in live if r["bucket"].astimezone(UTC) in wanted]
    return rows + fresh, missing, fresh


def _computer(
    repo: Repository, dimension: str, interval: Interval, k: int
) -> Callable[[Span], Rows]:
    def compute(part: Span) -> Rows:
        params = {"start": part[0], "end": part[1], "k": k}
        return repo.usage_groups(dimension, interval, params)

    return compute


def closed_rows(
    repo: Repository, dimension: str, interval: Interval, closed: Span, k: int
) -> tuple[Rows, int]:
    """Rows of a span of whole closed buckets, storing the ones not stored yet; how many were."""
    params = stored_params(dimension, interval, closed, k)
    compute = _computer(repo, dimension, interval, k)
    stored, missing, fresh = answer(closed, interval, repo.cached_answers(params), compute)
    if missing:
        repo.save_answers(to_stored(fresh, missing, interval, dimension, k))
        if dimension in LED:  # after the answer: a bucket with leads always has its answer
            repo.save_leads(leads.lead_rows(fresh, missing, interval, dimension, k))
    return stored, len(missing)


def backfill_leads(repo: Repository, dimension: str, interval: Interval, span: Span, k: int) -> int:
    """Store leads for the buckets of ``span`` answered before leads were kept; how many."""
    params = stored_params(dimension, interval, span, k)
    todo = sorted(
        repo.done_buckets(sql.USAGE_ANSWERS, params) - repo.done_buckets(sql.USAGE_LEADS, params)
    )
    if not todo:
        return 0
    params |= {"start": todo[0], "end": next_bucket(todo[-1], interval)}
    rows, _ = from_stored(repo.cached_answers(params))
    repo.save_leads(leads.lead_rows(rows, todo, interval, dimension, k))
    return len(todo)


def rows_for(
    repo: Repository,
    dimension: str,
    interval: Interval,
    span: Span,
    k: int,
    closed_before: datetime | None,
    top: int | None = None,
) -> Rows:
    """Every query row for ``span``: stored answers where they exist, live elsewhere.

    ``closed_before`` None turns the store off (everything live). ``top`` keeps only the
    groups of the ``top`` biggest keys over the span and folds the rest into "other" (see
    :mod:`services.api.top`). Blocking: run in a thread.
    """
    compute = _computer(repo, dimension, interval, k)
    if closed_before is None:
        return _cut(compute(span), top, k)
    how = plan(span[0], span[1], interval, closed_before)
    if top is not None and not how.live and how.closed is not None:
        chosen = stored_top(repo, dimension, interval, how.closed, k, top)
        if chosen is not None:
            return chosen
    rows = [row for part in how.live for row in compute(part)]
    if how.closed is not None:
        rows += closed_rows(repo, dimension, interval, how.closed, k)[0]
    return _cut(rows, top, k)


def _cut(rows: Rows, top: int | None, k: int) -> Rows:
    return rows if top is None else keep_top(rows, top, k)
