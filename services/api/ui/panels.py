"""The dashboard's panels as plain data, from the JSON API's own answers (no I/O here).

A panel never recomputes a figure: it regroups what ``/v1/usage/*`` answered. Totals over a range
add the per-bucket figures of shown groups; a group folded into "other" in some bucket counts
there, not in its own row, so nothing under k visitors ever appears.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from ..usage import ConsentOut, ConsentVersionsOut, Interval, UsageOut

DIMENSIONS = {
    "pages": "Top pages",
    "referrers": "Referrer hosts",
    "browsers": "Browsers",
    "devices": "Device classes",
    "os": "Operating systems",
    "utm_source": "UTM source",
    "utm_medium": "UTM medium",
    "utm_campaign": "UTM campaign",
}
PURPOSES = ("analytics", "marketing", "preferences")


@dataclass(frozen=True)
class Query:
    """The range on screen: whole UTC days ``first``..``last``, in buckets of ``interval``."""

    first: date
    last: date
    interval: Interval

    @property
    def start(self) -> datetime:
        """Start, inclusive."""
        return datetime(self.first.year, self.first.month, self.first.day, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """End, exclusive: midnight after the last day."""
        return datetime(self.last.year, self.last.month, self.last.day, tzinfo=UTC) + timedelta(1)

    def previous(self) -> Query:
        """The period of the same length just before, for comparison."""
        days = (self.last - self.first).days + 1
        return Query(self.first - timedelta(days), self.first - timedelta(1), self.interval)


@dataclass
class Line:
    """One group's figures over the range (sums of its shown buckets)."""

    key: str
    visitors: int = 0
    pageviews: int = 0


@dataclass
class Folded:
    """The range's "other": figures of buckets where it reached k, and how many were withheld."""

    visitors: int = 0
    pageviews: int = 0
    withheld: int = 0


@dataclass
class Table:
    """One dimension's table."""

    metric: str
    title: str
    lines: list[Line] = field(default_factory=list)
    other: Folded = field(default_factory=Folded)
    top: int | None = None


def table(answer: UsageOut, title: str) -> Table:
    """A dimension's groups summed over buckets, largest first, with the honest "other"."""
    lines: dict[str, Line] = {}
    other = Folded()
    for bucket in answer.buckets:
        for group in bucket.groups:
            line = lines.setdefault(group.key, Line(group.key))
            line.visitors += group.visitors
            line.pageviews += group.pageviews
        if bucket.other.suppressed:
            other.withheld += 1
        else:
            other.visitors += bucket.other.visitors or 0
            other.pageviews += bucket.other.pageviews or 0
    ordered = sorted(lines.values(), key=lambda line: (-line.pageviews, line.key))
    return Table(answer.metric, title, ordered, other, answer.top)


def series(answer: UsageOut) -> dict[datetime, int | None]:
    """A one-group answer ("all") per bucket: the figure, or None where it was withheld."""
    out: dict[datetime, int | None] = {}
    for bucket in answer.buckets:
        group = bucket.groups[0] if bucket.groups else None
        figure = getattr(group, answer.metric, None) if group else None
        out[bucket.start] = figure
    return out


def total(figures: dict[datetime, int | None]) -> int:
    """Sum of the shown figures."""
    return sum(v for v in figures.values() if v is not None)


def change(now: int, before: int) -> str:
    """The change against the previous period, as a person reads it."""
    if before == 0:
        return "no data before" if now == 0 else "new"
    return f"{(now - before) / before:+.0%}"


def chart(
    starts: list[datetime], lines: dict[str, dict[datetime, int | None] | dict[datetime, float]]
) -> dict[str, object]:
    """What the page's script draws: x as epoch seconds, one list per line (null for gaps)."""
    return {
        "x": [int(s.timestamp()) for s in starts],
        "series": {name: [values.get(s) for s in starts] for name, values in lines.items()},
    }


def consent_rates(answer: ConsentOut) -> dict[str, dict[datetime, float]]:
    """Per purpose, the share of decisions granting it, per shown bucket (in percent)."""
    out: dict[str, dict[datetime, float]] = {p: {} for p in PURPOSES}
    for bucket in answer.buckets:
        for purpose, rate in (bucket.rates or {}).items():
            out.setdefault(purpose, {})[bucket.start] = round(rate * 100, 2)
    return out


def to_csv(
    views: dict[datetime, int | None],
    visitors: dict[datetime, int | None],
    tables: list[Table],
    consent: ConsentOut,
    versions: ConsentVersionsOut,
) -> str:
    """Everything on the screen as one CSV (panel, bucket, key, visitors, pageviews, rate)."""
    out = io.StringIO()
    write = csv.writer(out).writerow
    write(["panel", "bucket", "key", "visitors", "pageviews", "rate"])
    for start in sorted(set(views) | set(visitors)):
        write(
            [
                "traffic",
                start.isoformat(),
                "all",
                _cell(visitors.get(start)),
                _cell(views.get(start)),
                "",
            ]
        )
    for t in tables:
        for line in t.lines:
            write([t.metric, "", _text(line.key), line.visitors, line.pageviews, ""])
        write(
            [
                t.metric,
                "",
                "other",
                t.other.visitors,
                t.other.pageviews,
                f"{t.other.withheld} bucket(s) withheld",
            ]
        )
    for bucket in consent.buckets:
        for purpose in PURPOSES:
            rate = (bucket.rates or {}).get(purpose)
            write(
                [
                    "consent",
                    bucket.start.isoformat(),
                    purpose,
                    _cell(bucket.visitors),
                    "",
                    "withheld" if rate is None else rate,
                ]
            )
    for vbucket in versions.buckets:
        for group in vbucket.groups:
            version = f"{group.policy_version} / {group.banner_hash}"
            for purpose in PURPOSES:
                key = _text(f"{version} / {purpose}")
                row = [vbucket.start.isoformat(), key, group.visitors, ""]
                write(["consent-version", *row, group.rates[purpose]])
    return out.getvalue()


def _cell(value: int | None) -> str | int:
    return "withheld" if value is None else value


def _text(value: str) -> str:
    """A visitor-supplied text a spreadsheet would run as a formula is quoted instead."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
