"""Lead rows: what a top-N answer needs of a stored bucket, so it reads a few rows per bucket.

A top-N answer (:mod:`services.api.top`) needs the N keys with the most page views over the
range, their rows, and per bucket the sum of every other shown group. Reading every stored
group of the range for that costs per group (pages: thousands a day). So beside a bucket's
stored answer go its leads (``usage_leads``): its ``LEAD`` biggest shown groups ("lead"), the
page views of the biggest shown group left out ("edge", 0 when none was), the sum of all its
shown groups ("shown"), its own "other" as stored, and a "done" marker.

The top keys come from the leads exactly, or not at all (a threshold test, as in Fagin's
algorithm): a key that is a lead in every bucket where a group was left out has its exact
total; any other key's total is at most its lead page views plus the edges of the buckets
where it is not a lead, and a key that is never a lead at most every edge added up. When the
N biggest exact keys beat every such bound they are the answer's keys, and each of their
shown groups is a lead; otherwise :func:`choose` says None and the caller reads the groups.

Privacy: leads are part of the stored answer (shown groups of at least k visitors, the stored
"other") and sums of shown groups; a top-N answer made from them is the one made from the
groups (see :mod:`services.api.top`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from schemas.rows import UsageLeadRow

from .buckets import Interval

Rows = list[dict[str, Any]]
# Groups kept per bucket: five times a page's table, far below a long tail's thousands. Each
# lead is a row read back per bucket; a top beyond it reads every stored group instead.
LEAD = 50


def lead_rows(
    rows: Rows, buckets: Iterable[datetime], interval: Interval, dimension: str, k: int
) -> list[UsageLeadRow]:
    """The lead rows of ``buckets`` from their answer's query rows (bucket, shown, key, ...)."""
    now = datetime.now(UTC).replace(microsecond=0)
    by_bucket: dict[datetime, Rows] = defaultdict(list)
    for row in rows:
        by_bucket[_utc(row["bucket"])].append(row)
    out: list[UsageLeadRow] = []

    def add(bucket: datetime, kind: str, key: str, visitors: int, pageviews: int) -> None:
        fields = {"bucket": bucket, "row_kind": kind, "key": key, "computed_at": now}
        fields |= {"visitors": visitors, "pageviews": pageviews}
        fields |= {"bucket_size": interval, "dimension": dimension, "k": k}
        out.append(UsageLeadRow.model_validate(fields))

    for bucket in buckets:
        groups = sorted(
            (r for r in by_bucket.get(bucket, []) if r["shown"]),
            key=lambda r: (-int(r["pageviews"]), r["key"]),
        )
        for row in groups[:LEAD]:
            add(bucket, "lead", row["key"], int(row["visitors"]), int(row["pageviews"]))
        add(bucket, "edge", "", 0, int(groups[LEAD]["pageviews"]) if len(groups) > LEAD else 0)
        add(bucket, "shown", "", *_sums(groups))
        for row in by_bucket.get(bucket, []):
            if not row["shown"]:
                add(bucket, "other", "", int(row["visitors"]), int(row["pageviews"]))
        add(bucket, "done", "", 0, 0)
    return out


@dataclass
class BucketLeads:
    """One bucket's latest leads."""

    leads: dict[str, tuple[int, int]] = field(default_factory=dict)
    edge: int = 0
    shown: tuple[int, int] = (0, 0)
    other: tuple[int, int] | None = None


def latest(rows: Rows, buckets: list[datetime]) -> dict[datetime, BucketLeads] | None:
    """Each bucket's leads from its latest computation; None if a bucket has none stored."""
    moment: dict[datetime, int] = {}
    for row in rows:
        if row["row_kind"] == "done":
            bucket = _utc(row["bucket"])
            moment[bucket] = max(moment.get(bucket, 0), int(row["at"]))
    if any(bucket not in moment for bucket in buckets):
        return None
    out = {bucket: BucketLeads() for bucket in buckets}
    for row in rows:
        bucket = _utc(row["bucket"])
        if bucket not in out or int(row["at"]) != moment[bucket]:
            continue
        figures = (int(row["visitors"]), int(row["pageviews"]))
        one, kind = out[bucket], row["row_kind"]
        if kind == "lead":
            one.leads[row["key"]] = figures
        elif kind == "edge":
            one.edge = figures[1]
        elif kind == "shown":
            one.shown = figures
        elif kind == "other":
            one.other = figures
    return out


def top_keys(stored: dict[datetime, BucketLeads], top: int) -> list[str] | None:
    """The ``top`` keys with the most page views over the buckets, ties by key; None if the
    leads cannot tell them apart from a key they left out (see the module's note)."""
    known: dict[str, int] = defaultdict(int)
    where: dict[str, set[datetime]] = defaultdict(set)
    for bucket, one in stored.items():
        for key, (_, pageviews) in one.leads.items():
            known[key] += pageviews
            where[key].add(bucket)
    edges = {bucket: one.edge for bucket, one in stored.items() if one.edge}
    exact = [key for key in known if edges.keys() <= where[key]]
    chosen = sorted(exact, key=lambda key: (-known[key], key))[:top]
    if not edges:
        return chosen  # every shown group is a lead: the totals are all exact
    if len(chosen) < top:
        return None
    last = (-known[chosen[-1]], chosen[-1])
    if sum(edges.values()) >= known[chosen[-1]]:
        return None  # a key that is never a lead could reach the last chosen one
    for key in known.keys() - set(exact):
        bound = known[key] + sum(edge for bucket, edge in edges.items() if bucket not in where[key])
        if (-bound, key) < last:
            return None
    return chosen


def choose(
    rows: Rows, buckets: list[datetime], top: int
) -> tuple[Rows, dict[datetime, tuple[int, int]]] | None:
    """The top-N answer of ``buckets`` from stored lead ``rows``, or None (read the groups).

    Returns what :func:`services.api.top.with_folded` takes: the chosen keys' groups with each
    bucket's own "other", and per bucket the sums of every other shown group (folded).
    """
    if top > LEAD:
        return None
    stored = latest(rows, buckets)
    keys = None if stored is None else top_keys(stored, top)
    if stored is None or keys is None:
        return None
    kept: Rows = []
    folded: dict[datetime, tuple[int, int]] = {}
    for bucket, one in stored.items():
        mine = [(key, one.leads[key]) for key in keys if key in one.leads]
        kept += [_row(bucket, 1, key, *figures) for key, figures in mine]
        if one.other is not None:
            kept.append(_row(bucket, 0, "", *one.other))
        visitors, pageviews = _sums({"visitors": v, "pageviews": p} for _, (v, p) in mine)
        if one.shown[1] > pageviews:  # every shown group has page views: some were folded
            folded[bucket] = (one.shown[0] - visitors, one.shown[1] - pageviews)
    return kept, folded


def _row(bucket: datetime, shown: int, key: str, visitors: int, pageviews: int) -> dict[str, Any]:
    return {
        "bucket": bucket,
        "shown": shown,
        "key": key,
        "visitors": visitors,
        "pageviews": pageviews,
    }


def _sums(rows: Iterable[dict[str, Any]]) -> tuple[int, int]:
    visitors = pageviews = 0
    for row in rows:
        visitors += int(row["visitors"])
        pageviews += int(row["pageviews"])
    return visitors, pageviews


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
