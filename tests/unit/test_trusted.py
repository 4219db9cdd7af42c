"""Rows and raw events built without validation are exactly what validation would build.

The worker builds each ``UsageEventRow`` and each batch's ``RawEvent`` s with
``schemas.trusted.trusted``; strict validation of what it built must give the same model (a
value of the wrong type, even one lax validation would coerce, fails here).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from schemas.messages import RawBatch, RawEvent
from schemas.rows import UsageEventRow
from schemas.trusted import trusted
from tests.unit.test_pipeline import T0, decision, history, raw_event, run


def validates_to_itself(model: BaseModel) -> None:
    again = type(model).model_validate(dict(model.__dict__), strict=True)
    assert again == model
    assert again.model_dump() == model.model_dump()


EVENTS: list[dict[str, Any]] = [
    {},
    {"page": None},
    {"browser": None},
    {"page": {"url": "https://example.com:8443/a?utm_source=n&x=1", "title": "A"}},
    {"props": {"section": "tariffs", "n": 3, "ok": True}},
    {"type": "cookie", "cookies": [{"name": "_ga", "category": "analytics"}]},
]


@pytest.mark.parametrize("extra", EVENTS)
@pytest.mark.parametrize("analytics", [True, False, None])
def test_every_row_the_pipeline_builds_validates_strictly_to_itself(
    extra: dict[str, Any], analytics: bool | None
) -> None:
    raw = raw_event(**extra)
    hist = None
    if analytics is not None:
        hist = history(decision("visitor_a_123", T0 - timedelta(days=1), analytics, "c" * 32))
    row = run(raw, hist, salt="s" * 16)
    assert isinstance(row, UsageEventRow)
    validates_to_itself(row)


@settings(max_examples=40, deadline=None)
@given(st.ip_addresses().map(str), st.booleans(), st.booleans())
def test_rows_for_any_address_and_signals(ip: str, gpc: bool, dnt: bool) -> None:
    raw = raw_event()
    facts = raw.facts.model_copy(update={"ip": ip, "gpc": gpc, "dnt": dnt})
    raw = raw.model_copy(update={"facts": facts})
    hist = history(decision("visitor_a_123", T0 - timedelta(days=1), True, "c" * 32))
    row = run(raw, hist)
    assert isinstance(row, UsageEventRow)
    validates_to_itself(row)


def test_a_batch_splits_into_the_raw_events_validation_would_make() -> None:
    events = [raw_event().event, raw_event(visitor=None).event]
    batch = RawBatch(events=events, facts=raw_event().facts, received_at=T0, sent_at=T0)
    split = batch.raw_events()
    for raw, event in zip(split, events, strict=True):
        expected = RawEvent(event=event, facts=batch.facts, received_at=T0, sent_at=T0)
        assert raw == expected
        assert raw.model_dump_json() == expected.model_dump_json()
        validates_to_itself(raw)


def test_left_out_fields_take_their_defaults_and_factories_are_refused() -> None:
    raw = raw_event()
    built = trusted(RawEvent, {"event": raw.event, "facts": raw.facts, "received_at": T0})
    assert built == RawEvent(event=raw.event, facts=raw.facts, received_at=T0)
    with pytest.raises(TypeError, match="default factories"):
        trusted(type(raw.event), {})
