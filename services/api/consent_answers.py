"""The consent panels' figures for closed buckets are computed once, then read (300 ms target).

Counting distinct deciders per bucket reads every decision of the range with ``FINAL``; on
a ledger of a million decisions that costs seconds on each ask. As for the usage answers
(:mod:`services.api.answers`), a bucket's figures are stored in ``consent_answers`` once it is
closed, with a ``done`` marker so an empty bucket is known to be empty, and later asks read
them. What is stored are the same rows the query returns (counts per bucket, or per bucket,
policy version and banner: no visitor keys); the k rule is applied when they are read
(:func:`services.api.usage.consent_buckets`, :func:`~services.api.usage.version_buckets`),
exactly as on rows computed live, so a stored answer and a live one never differ.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from consentstream.storage.repository import Repository
from schemas.rows import ConsentAnswerRow

from .answers import CHUNK, plan
from .buckets import Interval, Span, bucket_starts, chunks, next_bucket

Rows = list[dict[str, Any]]
Panel = Literal["rates", "versions"]
PANELS: tuple[Panel, ...] = ("rates", "versions")
FIGURES = ("visitors", "decisions", "analytics", "marketing", "preferences", "refused")


def _computer(repo: Repository, panel: Panel, interval: Interval) -> Callable[[Span], Rows]:
    query = repo.usage_consent if panel == "rates" else repo.usage_consent_versions

    def compute(part: Span) -> Rows:
        return query(interval, {"start": part[0], "end": part[1]})

    return compute


def _bucket(row: dict[str, Any]) -> datetime:
    moment: datetime = row["bucket"]
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def to_stored(
    rows: Rows, buckets: list[datetime], interval: Interval, panel: Panel
) -> list[ConsentAnswerRow]:
    """Live rows of ``buckets`` as rows to store, and a done marker for each bucket."""
    now = datetime.now(UTC).replace(microsecond=0)
    base = {"bucket_size": interval, "panel": panel, "computed_at": now}
    zero = dict.fromkeys(FIGURES, 0)
    wanted = set(buckets)
    out = [
        ConsentAnswerRow.model_validate(
            base
            | {f: int(r[f]) for f in FIGURES}
            | {
                "bucket": _bucket(r),
                "row_kind": "row",
                "version": r.get("version", ""),
                "banner": r.get("banner", ""),
            }
        )
        for r in rows
        if _bucket(r) in wanted
    ]
    done = {"row_kind": "done", "version": "", "banner": ""}
    return out + [
        ConsentAnswerRow.model_validate(base | zero | done | {"bucket": b}) for b in buckets
    ]


def _from_stored(stored: Rows) -> tuple[Rows, set[datetime]]:
    """Rows of the buckets complete in the store, and those buckets."""
    done = {_bucket(row) for row in stored if row["row_kind"] == "done"}
    return [r for r in stored if r["row_kind"] == "row" and _bucket(r) in done], done


def closed_rows(
    repo: Repository, panel: Panel, interval: Interval, closed: Span
) -> tuple[Rows, int]:
    """Rows of a span of whole closed buckets, storing the ones not stored yet; how many were."""
    params = {"interval": interval, "panel": panel, "start": closed[0], "end": closed[1]}
    rows, done = _from_stored(repo.cached_consent_answers(params))
    missing = [b for b in bucket_starts(closed, interval) if b not in done]
    if not missing:
        return rows, 0
    compute = _computer(repo, panel, interval)
    whole = (missing[0], next_bucket(missing[-1], interval))
    live = [row for part in chunks(whole, interval, CHUNK) for row in compute(part)]
    wanted = set(missing)
    fresh = [row for row in live if _bucket(row) in wanted]
    repo.save_consent_answers(to_stored(fresh, missing, interval, panel))
    return rows + fresh, len(missing)


def rows_for(
    repo: Repository, panel: Panel, interval: Interval, span: Span, closed_before: datetime | None
) -> Rows:
    """Every row for ``span`` in the query's order: stored where they exist, live elsewhere.

    ``closed_before`` None turns the store off (everything live). Blocking: run in a thread.
    """
    compute = _computer(repo, panel, interval)
    if closed_before is None:
        return compute(span)
    how = plan(span[0], span[1], interval, closed_before)
    rows = [row for part in how.live for row in compute(part)]
    if how.closed is not None:
        rows += closed_rows(repo, panel, interval, how.closed)[0]
    return sorted(rows, key=lambda r: (_bucket(r), r.get("version", ""), r.get("banner", "")))
