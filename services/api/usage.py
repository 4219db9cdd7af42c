"""Marketing aggregates with k-anonymity: no group smaller than k distinct visitors is shown.

How visitors count: only identified visitors (``visitor_key`` set, i.e. analytics consent) are
distinct-countable. Anonymous rows (``visitor_key`` '') add page views to a group but never
help it reach k, so a group seen only by anonymous or by fewer than k identified visitors is
folded into its bucket's "other" row. When "other" itself has fewer than k visitors its numbers
are withheld too (``suppressed``), so no figure ever describes fewer than k people.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field

from consentstream.openapi import datetime_bounds

from .buckets import Interval, whole_buckets
from .errors import InvalidInput

__all__ = ["Interval"]
HOURLY_MAX_DAYS = 31
# ClickHouse DateTime covers 1970-2105 (2106 on newer engines); stay well inside it.
EARLIEST = datetime(1971, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
TIME_SCHEMA = datetime_bounds(EARLIEST, LATEST)
WINDOW_RULES = (
    f"From {EARLIEST:%Y-%m-%d} up to (not including) {LATEST:%Y-%m-%d} (UTC); 'from' must be "
    f"before 'to', and the window spans at most {HOURLY_MAX_DAYS} days with interval=hour, "
    "else at most the server's usage_max_days (400 unless configured); otherwise 422."
)
TOP_MAX = 1000
TOP_RULES = (
    f"Optional, 1 to {TOP_MAX}: keep in every bucket only the groups of the N keys with the"
    " most page views over the whole answered range (ties: the smaller key first), and fold"
    " every other shown group of the bucket into its 'other' (page views added, visitors"
    " added group by group). A bucket's own 'other' under k visitors stays withheld and out"
    " of that sum. Default: every group; otherwise 422."
)
INTERVAL_RULES = f"hour: windows up to {HOURLY_MAX_DAYS} days; day and week: up to usage_max_days."


def in_storable_range(moment: datetime) -> datetime:
    """``moment`` in UTC, refused (``ValueError``, so a 422 naming the field) outside the range.

    Year 1 or 9999 with an offset cannot even be moved to UTC (``OverflowError``), and a
    moment the storage cannot hold has nothing to answer; both are the asker's mistake.
    """
    problem = f"must lie from {EARLIEST:%Y-%m-%d} up to (not including) {LATEST:%Y-%m-%d} (UTC)"
    try:
        utc = _utc(moment)
    except OverflowError:
        raise ValueError(problem) from None
    if not EARLIEST <= utc < LATEST:
        raise ValueError(problem)
    return utc


UsageTime = Annotated[datetime, AfterValidator(in_storable_range)]
"""A time a usage query may name: any ISO 8601 form, checked to lie in the storable range."""


class Group(BaseModel):
    """One shown group: at least k distinct identified visitors."""

    key: str = Field(
        description="The page path, referrer host, browser family, OS family, device class,"
        " utm_* value ('(none)' for untagged views), or 'all'."
    )
    visitors: int = Field(description="Distinct identified visitors.")
    pageviews: int = Field(description="Page views, anonymous ones included.")


class Other(BaseModel):
    """Everything folded: numbers are null when it too holds fewer than k visitors."""

    visitors: int | None = Field(
        description="Distinct identified visitors of the folded groups; with 'top', the groups"
        " folded beyond the top add their own visitor counts (one visitor may count in several)."
    )
    pageviews: int | None = Field(description="Page views of the folded groups.")
    suppressed: bool = Field(
        description="True when the folded groups hold fewer than k visitors: numbers are null."
        " With 'top', a withheld part stays out of the numbers shown beside the top groups."
    )


class Bucket(BaseModel):
    """One time bucket of a usage answer."""

    start: datetime
    groups: list[Group]
    other: Other


class UsageOut(BaseModel):
    """A k-anonymous usage answer."""

    metric: str
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    interval: Interval
    k: int
    top: int | None = Field(
        default=None, description="The 'top' asked for (null: every group is listed)."
    )
    buckets: list[Bucket]


class ConsentBucket(BaseModel):
    """Consent rates in one bucket; null when fewer than k visitors decided in it."""

    start: datetime
    visitors: int | None
    decisions: int | None
    rates: dict[str, float] | None = Field(
        description="Share of decisions granting each purpose; 'refused': granting none."
    )
    suppressed: bool


class ConsentOut(BaseModel):
    """Consent rates per purpose over time."""

    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    interval: Interval
    k: int
    buckets: list[ConsentBucket]


class VersionGroup(BaseModel):
    """Consent rates of one policy version and banner in one bucket (at least k deciders)."""

    policy_version: str
    banner_hash: str
    visitors: int
    decisions: int
    rates: dict[str, float] = Field(
        description="Share of decisions granting each purpose; 'refused': granting none."
    )


class VersionBucket(BaseModel):
    """One bucket's version groups; ``withheld`` when some decisions were in smaller groups."""

    start: datetime
    groups: list[VersionGroup]
    withheld: bool = Field(
        description="True when decisions under a version seen by fewer than k deciders"
        " were left out of this bucket."
    )


class ConsentVersionsOut(BaseModel):
    """Consent rates per policy version and banner over time, so a banner change compares."""

    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    interval: Interval
    k: int
    buckets: list[VersionBucket]


def time_range(
    start: datetime | None,
    end: datetime | None,
    interval: Interval,
    max_days: int,
    *,
    ready_before: datetime | None = None,
) -> tuple[datetime, datetime]:
    """The range to answer: whole buckets that are ready, in UTC (default: the last 7 days).

    The asked ``[start, end)`` is refused when empty or too long, then widened to the edges
    of its buckets and cut before the first bucket that ended after ``ready_before`` (default
    now: the bucket still running is never answered). So a range cut to the second answers
    the same as its whole buckets, and no answer holds part of a bucket: subtracting two
    answers leaves whole buckets, each k-anonymous on its own. The result may be empty.
    """
    now = datetime.now(UTC)
    end = _utc(end) if end else now
    start = _utc(start) if start else end - timedelta(days=7)
    if start >= end:
        raise InvalidInput("'from' must be before 'to'")
    if start < EARLIEST or end > LATEST:
        raise InvalidInput(f"times must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}")
    limit = HOURLY_MAX_DAYS if interval == "hour" else max_days
    if end - start > timedelta(days=limit):
        raise InvalidInput(f"at most {limit} days per query with interval {interval!r}")
    return whole_buckets((start, end), interval, ready_before or now)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def fold(rows: list[dict[str, Any]], k: int) -> list[Bucket]:
    """Buckets from the SQL rows (bucket, shown, key, visitors, pageviews), other withheld < k."""
    # Each bucket is validated in one call with its groups (thousands on a big site's pages):
    # far cheaper than building every group as a model of its own.
    shown: dict[datetime, list[dict[str, Any]]] = {}
    others: dict[datetime, Other] = {}
    for row in rows:
        start = _utc(row["bucket"])
        groups = shown.setdefault(start, [])
        visitors, pageviews = int(row["visitors"]), int(row["pageviews"])
        if row["shown"]:
            groups.append({"key": row["key"], "visitors": visitors, "pageviews": pageviews})
        elif visitors >= k:
            others[start] = Other(visitors=visitors, pageviews=pageviews, suppressed=False)
        else:
            others[start] = Other(visitors=None, pageviews=None, suppressed=True)
    return [
        Bucket.model_validate(
            {
                "start": start,
                "groups": sorted(groups, key=lambda g: (-g["pageviews"], g["key"])),
                "other": others.get(start) or _empty(),
            }
        )
        for start, groups in sorted(shown.items())
    ]


def _empty() -> Other:
    return Other(visitors=0, pageviews=0, suppressed=False)


def consent_buckets(rows: list[dict[str, Any]], k: int) -> list[ConsentBucket]:
    """Consent rates per bucket, withheld where fewer than k visitors decided."""
    out = []
    for row in rows:
        start, visitors, decisions = (
            _utc(row["bucket"]),
            int(row["visitors"]),
            int(row["decisions"]),
        )
        if visitors < k:
            out.append(
                ConsentBucket(
                    start=start, visitors=None, decisions=None, rates=None, suppressed=True
                )
            )
            continue
        rates = _rates(row, decisions)
        out.append(
            ConsentBucket(
                start=start, visitors=visitors, decisions=decisions, rates=rates, suppressed=False
            )
        )
    return out


def _rates(row: dict[str, Any], decisions: int) -> dict[str, float]:
    return {
        p: round(int(row[p]) / decisions, 4)
        for p in ("analytics", "marketing", "preferences", "refused")
    }


def version_buckets(rows: list[dict[str, Any]], k: int) -> list[VersionBucket]:
    """Version groups per bucket; a group of fewer than k deciders is left out and flagged."""
    buckets: dict[datetime, VersionBucket] = {}
    for row in rows:
        start = _utc(row["bucket"])
        bucket = buckets.setdefault(start, VersionBucket(start=start, groups=[], withheld=False))
        visitors, decisions = int(row["visitors"]), int(row["decisions"])
        if visitors < k:
            bucket.withheld = True
            continue
        group = VersionGroup(
            policy_version=row["version"],
            banner_hash=row["banner"],
            visitors=visitors,
            decisions=decisions,
            rates=_rates(row, decisions),
        )
        bucket.groups.append(group)
    return sorted(buckets.values(), key=lambda b: b.start)
