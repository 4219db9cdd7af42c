"""Top-N usage answers: per bucket only the N groups biggest over the whole range, rest folded.

A long-tail dimension (thousands of pages a day) costs per group returned; a dashboard shows a
handful. With ``top`` N the answer keeps, in every bucket, the groups of the N keys with the
most page views over the answered range (ties to the smaller key), and adds every other shown
group of the bucket to that bucket's "other": page views summed, visitors summed per group (a
visitor seen in two folded groups counts in each, as they would in the groups' own rows).

Privacy: a top-N answer is made only of figures the full answer shows. A shown group already
has at least k visitors; a bucket's own "other" joins the folded groups only when it is shown
itself (at least k visitors). When it is withheld it stays out of the sum, so subtracting the
full answer's groups from a top-N "other" never reveals the figures of fewer than k visitors.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from consentstream.storage.repository import Repository

from . import leads
from .buckets import Interval, Span, bucket_starts, stored_params

Rows = list[dict[str, Any]]
Sums = dict[datetime, tuple[int, int]]


def top_keys(rows: Rows, top: int) -> set[str]:
    """The ``top`` shown keys with the most page views over all ``rows``, ties by key."""
    totals: Counter[str] = Counter()
    for row in rows:
        if row["shown"]:
            totals[row["key"]] += int(row["pageviews"])
    return set(sorted(totals, key=lambda key: (-totals[key], key))[:top])


def keep_top(rows: Rows, top: int, k: int) -> Rows:
    """Query rows (bucket, shown, key, visitors, pageviews) cut to the top keys, rest folded."""
    keys = top_keys(rows, top)
    kept: Rows = []
    folded: Sums = {}
    for row in rows:
        if not row["shown"] or row["key"] in keys:
            kept.append(row)
            continue
        bucket = _utc(row["bucket"])
        visitors, pageviews = folded.get(bucket, (0, 0))
        folded[bucket] = (visitors + int(row["visitors"]), pageviews + int(row["pageviews"]))
    return with_folded(kept, folded, k)


def with_folded(rows: Rows, folded: Sums, k: int) -> Rows:
    """``rows`` with each bucket's folded sums added to its "other" row (one made if none).

    A bucket's own "other" under k visitors is withheld and stays out of the sum (see the
    module's note on privacy); with nothing folded into it, it is kept as it was.
    """
    out: Rows = []
    own: dict[datetime, dict[str, Any]] = {}
    for row in rows:
        if row["shown"]:
            out.append(row)
        else:
            own[_utc(row["bucket"])] = row
    for bucket in own.keys() | folded.keys():
        base = own.get(bucket)
        if bucket not in folded:
            out.append(own[bucket])
            continue
        visitors, pageviews = folded[bucket]
        if base is not None and int(base["visitors"]) >= k:
            visitors += int(base["visitors"])
            pageviews += int(base["pageviews"])
        out.append(_other(bucket, visitors, pageviews))
    return out


def stored_top(
    repo: Repository, dimension: str, interval: Interval, closed: Span, k: int, top: int
) -> Rows | None:
    """The top-N rows of a span of whole closed buckets, from stored answers.

    From the buckets' leads (:mod:`services.api.leads`: a few rows a bucket) when they tell
    the top keys apart, else chosen and folded in ClickHouse from every stored group of the
    span. None when some bucket of the span is not stored yet (the caller answers it the full
    way, which stores it).
    """
    params = stored_params(dimension, interval, closed, k) | {"top": top}
    buckets = bucket_starts(closed, interval)
    led = leads.choose(repo.stored_leads(params), buckets, top) if top <= leads.LEAD else None
    if led is not None:
        return with_folded(*led, k)
    stored = repo.latest_top_answers(params)
    copies = {row["bucket"]: int(row["copies"]) for row in stored if row["row_kind"] == "done"}
    if any(bucket not in copies for bucket in buckets):
        return None
    if any(count > 1 for count in copies.values()):
        # two computations of one bucket stored in the same second: only a per-row
        # deduplicating read tells their rows apart
        stored = repo.top_answers(params, repo.top_answer_keys(params))
    rows = [
        {**row, "shown": int(row["row_kind"] == "group")}
        for row in stored
        if row["row_kind"] in ("group", "other")
    ]
    return with_folded(rows, _sums(r for r in stored if r["row_kind"] == "folded"), k)


def _sums(rows: Iterable[dict[str, Any]]) -> Sums:
    return {_utc(r["bucket"]): (int(r["visitors"]), int(r["pageviews"])) for r in rows}


def _other(bucket: datetime, visitors: int, pageviews: int) -> dict[str, Any]:
    return {"bucket": bucket, "shown": 0, "key": "", "visitors": visitors, "pageviews": pageviews}


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
