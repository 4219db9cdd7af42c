"""Usage time buckets (hour, day, Monday-started week, all UTC) and their edges.

Every usage answer is made of whole buckets: the edges here are the only cut points a query
can reach, so two answers never differ by a sliver of one bucket.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

Interval = Literal["hour", "day", "week"]
Span = tuple[datetime, datetime]

_STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}


def floor_bucket(moment: datetime, interval: Interval) -> datetime:
    """The start of the bucket holding ``moment`` (UTC; weeks start on Monday)."""
    moment = moment.astimezone(UTC)
    if interval == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return day if interval == "day" else day - timedelta(days=day.weekday())


def next_bucket(start: datetime, interval: Interval) -> datetime:
    """The start of the bucket after the one starting at ``start``."""
    return start + _STEP[interval]


def ceil_bucket(moment: datetime, interval: Interval) -> datetime:
    """The first bucket start at or after ``moment``."""
    floor = floor_bucket(moment, interval)
    return floor if floor == moment else next_bucket(floor, interval)


def bucket_starts(span: Span, interval: Interval) -> list[datetime]:
    """Every bucket start in a bucket-aligned span."""
    out, at = [], span[0]
    while at < span[1]:
        out.append(at)
        at = next_bucket(at, interval)
    return out


def whole_buckets(span: Span, interval: Interval, ready_before: datetime) -> Span:
    """``span`` widened to bucket edges, then cut before the first bucket not yet ready.

    A bucket is ready once it ended before ``ready_before`` (the API passes the moment
    before which buckets are settled). The result may be empty (start == end): the asked
    range then holds no bucket that may be answered yet.
    """
    start = floor_bucket(span[0], interval)
    end = min(ceil_bucket(span[1], interval), floor_bucket(ready_before, interval))
    return start, max(start, end)


def chunks(span: Span, interval: Interval, most: timedelta) -> list[Span]:
    """A bucket-aligned span cut into runs of whole buckets, each at most ``most`` long (or
    one bucket where a bucket is longer), so no single query reads a long history at once."""
    out: list[Span] = []
    for start in bucket_starts(span, interval):
        end = next_bucket(start, interval)
        if out and end - out[-1][0] <= most:
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def stored_params(dimension: str, interval: Interval, span: Span, k: int) -> dict[str, Any]:
    """The parameters every read of stored usage answers for ``span`` takes."""
    return {"interval": interval, "dimension": dimension, "k": k, "start": span[0], "end": span[1]}
