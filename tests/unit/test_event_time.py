"""The event-time window shared by the collector and the worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.event_time import TimeWindow, corrected_time, time_window_error

RECEIVED = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def test_skew_is_added_to_the_event_time() -> None:
    sent = RECEIVED - timedelta(minutes=3)  # client clock three minutes behind
    ts = sent - timedelta(seconds=10)
    assert corrected_time(ts, RECEIVED, sent) == RECEIVED - timedelta(seconds=10)


def test_without_sent_at_the_client_time_stands() -> None:
    ts = RECEIVED - timedelta(hours=1)
    assert corrected_time(ts, RECEIVED, None) == ts


def test_a_wild_sent_at_drags_the_event_out_of_the_window() -> None:
    ts = datetime(2000, 1, 1, tzinfo=UTC)
    sent = datetime(2099, 12, 31, tzinfo=UTC)
    corrected = corrected_time(ts, RECEIVED, sent)
    assert corrected.year == 1926
    error = time_window_error(corrected, RECEIVED, TimeWindow())
    assert error is not None and error.startswith("ts:") and "before it was received" in error


@pytest.mark.parametrize(
    ("offset", "refused"),
    [
        (timedelta(days=-7, seconds=-1), True),
        (timedelta(days=-7), False),
        (timedelta(0), False),
        (timedelta(minutes=5), False),
        (timedelta(minutes=5, seconds=1), True),
    ],
)
def test_window_edges(offset: timedelta, refused: bool) -> None:
    error = time_window_error(RECEIVED + offset, RECEIVED, TimeWindow())
    assert (error is not None) is refused


def test_window_is_configurable() -> None:
    window = TimeWindow(max_age=timedelta(days=1), max_ahead=timedelta(0))
    assert time_window_error(RECEIVED - timedelta(days=2), RECEIVED, window) is not None
    assert time_window_error(RECEIVED + timedelta(seconds=1), RECEIVED, window) is not None
