"""What the worker reads off the raw topic: batches, and single events from before batches."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from schemas.events import Event
from schemas.messages import RawBatch, RawEvent, RequestFacts
from streams.agents.events import RAW_MESSAGE, raw_events_of
from streams.inserts import chunks

FACTS = RequestFacts(ip="192.0.2.1", user_agent="UA")
AT = datetime(2026, 11, 28, 12, tzinfo=UTC)


def event() -> Event:
    return Event.model_validate(
        {"event_id": str(uuid.uuid4()), "type": "pageview", "ts": "2026-11-28T11:59:59Z"}
    )


def test_a_batch_becomes_one_raw_event_per_event_with_the_shared_facts() -> None:
    events = [event(), event(), event()]
    value = RawBatch(events=events, facts=FACTS, received_at=AT, sent_at=AT).model_dump_json()
    raws = raw_events_of(RAW_MESSAGE.validate_json(value))
    assert [r.event for r in raws] == events
    assert {(r.facts, r.received_at, r.sent_at) for r in raws} == {(FACTS, AT, AT)}


def test_a_single_event_message_is_still_read() -> None:
    raw = RawEvent(event=event(), facts=FACTS, received_at=AT)
    assert raw_events_of(RAW_MESSAGE.validate_json(raw.model_dump_json())) == [raw]


def test_a_batch_with_one_bad_event_fails_whole() -> None:
    good = RawBatch(events=[event()], facts=FACTS, received_at=AT).model_dump_json()
    bad = good.replace('"events":[', '"events":[{"event_id":"nope"},')
    with pytest.raises(ValidationError):
        RAW_MESSAGE.validate_json(bad)


def test_rows_are_inserted_in_chunks_of_the_sink_batch_size() -> None:
    assert [len(c) for c in chunks(list(range(12)), 5)] == [5, 5, 2]
    assert chunks([], 5) == []
