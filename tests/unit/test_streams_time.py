"""The pipeline's time step: times outside the window around receipt are parked, not stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.event_time import TimeWindow
from schemas.rows import UsageEventRow
from streams import pipeline

from .test_pipeline import T0, raw_event, run


def test_a_wild_sent_at_that_moves_the_time_before_1970_is_dead_lettered_with_its_reason() -> None:
    """ts 2000-01-01 with sent_at 2099-12-31: skew correction would make it 1926."""
    raw = raw_event(at=datetime(2000, 1, 1, tzinfo=UTC)).model_copy(
        update={"received_at": T0, "sent_at": datetime(2099, 12, 31, tzinfo=UTC)}
    )
    dropped = run(raw)
    assert isinstance(dropped, pipeline.Dropped) and dropped.dead_letter
    assert dropped.reason == "out_of_window"
    assert dropped.detail.startswith("ts: corrected event time 1926-")


@pytest.mark.parametrize(
    ("at", "sent_at"),
    [
        (T0 - timedelta(days=8), None),  # too old by the client's own clock
        (T0 + timedelta(minutes=6), None),  # too far ahead to be a clock's jitter
        (T0, T0 - timedelta(days=30)),  # a slow clock moved forward past the lead
        (datetime(2099, 12, 31, tzinfo=UTC), datetime(2000, 1, 1, tzinfo=UTC)),
    ],
)
def test_times_outside_the_window_are_dead_lettered(at: datetime, sent_at: datetime | None) -> None:
    raw = raw_event(at=at).model_copy(update={"received_at": T0, "sent_at": sent_at})
    dropped = run(raw)
    assert dropped == pipeline.Dropped("out_of_window", dropped.detail, dead_letter=True)  # type: ignore[union-attr]


def test_a_correction_beyond_the_calendar_is_dead_lettered_not_raised() -> None:
    raw = raw_event(at=datetime(2000, 1, 1, tzinfo=UTC)).model_copy(
        update={
            "received_at": datetime(1, 1, 2, tzinfo=UTC),
            "sent_at": datetime(9999, 1, 1, tzinfo=UTC),
        }
    )
    dropped = run(raw)
    assert isinstance(dropped, pipeline.Dropped) and dropped.dead_letter


def test_a_received_at_without_a_zone_is_dead_lettered_not_raised() -> None:
    raw = raw_event().model_copy(update={"received_at": T0.replace(tzinfo=None)})
    dropped = run(raw)
    assert isinstance(dropped, pipeline.Dropped) and dropped.reason == "naive_timestamp"


def test_the_window_comes_from_the_context() -> None:
    raw = raw_event(at=T0 - timedelta(days=20)).model_copy(update={"received_at": T0})
    assert isinstance(run(raw, window=TimeWindow(max_age=timedelta(days=30))), UsageEventRow)


@settings(max_examples=200, deadline=None)
@given(
    at=st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31), timezones=st.just(UTC)),
    sent_at=st.none() | st.datetimes(timezones=st.just(UTC)),
    received_at=st.datetimes(timezones=st.just(UTC)),
)
def test_a_stored_time_always_lies_in_the_window_and_never_after_receipt(
    at: datetime, sent_at: datetime | None, received_at: datetime
) -> None:
    raw = raw_event(at=at).model_copy(update={"received_at": received_at, "sent_at": sent_at})
    row = run(raw)
    if isinstance(row, UsageEventRow):
        assert received_at - timedelta(days=7) <= row.ts <= received_at
    else:
        assert row.dead_letter and row.reason == "out_of_window"
