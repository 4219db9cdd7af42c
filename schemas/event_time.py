"""When an event happened, by the server's clock, and whether that time is worth keeping.

The collector and the worker apply the same rule: the collector refuses an event whose corrected
time falls outside the window (the client hears why), and the worker drops what an older
collector already let into the topic. Storage engines refuse times far outside their range
(ClickHouse 18.16's DateTime starts in 1970), so a time from a wild client clock must never
reach an insert.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class TimeWindow:
    """How far before and after the moment of receipt a corrected event time may lie."""

    max_age: timedelta = timedelta(days=7)
    max_ahead: timedelta = timedelta(minutes=5)


def corrected_time(ts: datetime, received_at: datetime, sent_at: datetime | None) -> datetime:
    """The event time shifted by the client's clock skew that ``sent_at`` reveals.

    ``received_at - sent_at`` is how far the client's clock lags the server's; adding it to the
    client's event time puts the event on the server's clock. Without ``sent_at`` (a bare event)
    the client's time is taken as it is.
    """
    if sent_at is None or sent_at.tzinfo is None:
        return ts
    return ts + (received_at - sent_at)


def time_window_error(corrected: datetime, received_at: datetime, window: TimeWindow) -> str | None:
    """Why a corrected event time is refused, or None when it lies inside the window."""
    if corrected < received_at - window.max_age:
        return (
            f"ts: corrected event time {corrected.isoformat()} is more than"
            f" {_human(window.max_age)} before it was received"
        )
    if corrected > received_at + window.max_ahead:
        return (
            f"ts: corrected event time {corrected.isoformat()} is more than"
            f" {_human(window.max_ahead)} after it was received"
        )
    return None


def _human(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds % 86_400 == 0:
        return f"{seconds // 86_400} days"
    return f"{seconds} seconds"
