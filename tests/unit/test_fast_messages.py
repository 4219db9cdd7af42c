"""The worker's msgspec decode of raw messages: a subset of the models, stored and parked alike.

Raw messages are generated around the event bodies of test_fast_events (valid, at the edges,
mutated) with their request facts and times also valid or mutated; for every one, either the
fast path declines, or the models accept it too and the pipeline stores the same row from
either reading, and a dead letter of the fast reading reads back as the models' event.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from consentstream.identity import pseudonymize
from schemas.fast_messages import AnyRawEvent, FastRawEvent, fast_raw_events, raw_event_json
from schemas.messages import RawEvent
from streams import pipeline
from streams.agents import events as agent
from tests.unit.test_fast_events import JUNK, _event
from tests.unit.test_pipeline import T0, decision, history, raw_event

FACTS = st.one_of(
    st.fixed_dictionaries(
        {"ip": st.sampled_from(["198.51.100.42", "2001:db8::1", "not an ip"])},
        optional={"user_agent": st.text(max_size=20), "gpc": st.booleans(), "dnt": st.booleans()},
    ),
    JUNK,
    st.just({"ip": "192.0.2.1", "gpc": 1}),
    st.just({"ip": "192.0.2.1", "gpc": "true"}),
    st.just({"ip": "192.0.2.1", "extra": 1}),
)
TIMES = st.one_of(
    st.sampled_from(
        [
            "2026-05-04T10:00:00Z",
            "2026-05-04T10:00:00.123456+02:00",
            "2026-05-04T10:00:00.1234567Z",
            "2026-05-04T10:00:00",  # naive: the models accept it, the pipeline parks it
            "2026-05-04 10:00:00z",
            "1969-12-31T23:59:59Z",
            1_777_888_999,
        ]
    ),
    JUNK,
)
ENVELOPE = {
    "facts": FACTS,
    "received_at": TIMES,
}
OPTIONAL = {
    "sent_at": st.one_of(st.none(), TIMES),
    "schema_version": st.one_of(st.just(1), st.just(2), JUNK, st.just("1")),
}


def _messages() -> st.SearchStrategy[dict[str, Any]]:
    batch = st.fixed_dictionaries(
        {"events": st.lists(_event(), min_size=0, max_size=3), **ENVELOPE}, optional=OPTIONAL
    )
    single = st.fixed_dictionaries({"event": _event(), **ENVELOPE}, optional=OPTIONAL)
    surprise = st.sampled_from([{"event": 1, "events": []}, {"events": [], "other": 1}])
    return st.one_of(batch, single, surprise)


def _models(document: Any) -> list[RawEvent] | None:
    try:
        return agent.raw_events_of(agent.RAW_MESSAGE.validate_python(document))
    except ValidationError:
        return None


def _stored(raw: AnyRawEvent) -> object:
    """What the pipeline makes of an event: its row, or why it drops it (under a grant)."""
    vid = raw.event.visitor_id
    key = pseudonymize(vid, "k") if vid else ""
    grant = history(decision(vid or "-", T0 - timedelta(days=9000), True, "c1"))
    ctx = pipeline.Context(histories={key: grant} if key else {}, suppressed=frozenset())
    work = pipeline.Work(raw=raw, visitor_key=key, ts=raw.event.ts)
    return (pipeline.run(work, ctx), pipeline.observe_cookies(work, ctx))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_messages())
def test_the_fast_path_accepts_a_subset_and_the_pipeline_reads_it_alike(doc: Any) -> None:
    fast = fast_raw_events(doc)
    models = _models(doc)
    if models is None:
        assert fast is None, "the fast path accepted what the models refuse"
        return
    if fast is None:
        return
    assert len(fast) == len(models)
    for quick, model in zip(fast, models, strict=True):
        assert _stored(quick) == _stored(model)
        assert RawEvent.model_validate_json(raw_event_json(quick)) == model


def test_a_collectors_batch_takes_the_fast_path_and_stores_as_before() -> None:
    first, second = raw_event(), raw_event(visitor=None, type="cookie", cookies=[{"name": "_ga"}])
    value = orjson.dumps(
        {
            "events": [first.event.model_dump(mode="json"), second.event.model_dump(mode="json")],
            "facts": first.facts.model_dump(),
            "received_at": first.received_at.isoformat(),
            "sent_at": T0.isoformat(),
        }
    )
    decoded = agent.decode_raw_events(value)
    assert all(isinstance(raw, FastRawEvent) for raw in decoded)
    assert [_stored(raw) for raw in decoded] == [
        _stored(raw) for raw in agent.raw_events_of(agent.decode_raw(value))
    ]


@pytest.mark.parametrize(
    "value",
    [b"", b"\xff", b"[1", b"null", b'{"events": []}', b'{"events": [{"event_id": "nope"}]}'],
)
def test_what_the_fast_path_refuses_raises_the_models_error(value: bytes) -> None:
    with pytest.raises((ValidationError, orjson.JSONDecodeError)):
        agent.decode_raw_events(value)


def test_a_naive_receipt_time_goes_to_the_models_which_the_pipeline_parks() -> None:
    doc = orjson.loads(raw_event().model_dump_json()) | {"received_at": "2026-05-04T10:00:00"}
    assert fast_raw_events(doc) is None
    [raw] = agent.decode_raw_events(orjson.dumps(doc))
    assert isinstance(raw, RawEvent)
    dropped = _stored(raw)
    assert isinstance(dropped, tuple) and dropped[0] == pipeline.Dropped(
        "naive_timestamp", "ts: a time without a zone", dead_letter=True
    )


def test_times_keep_their_zone_and_instant() -> None:
    doc = orjson.loads(raw_event().model_dump_json())
    doc["event"]["ts"] = "2026-05-04T12:00:00.5+02:00"
    [raw] = fast_raw_events(doc) or []
    assert raw.event.ts == datetime(2026, 5, 4, 10, 0, 0, 500000, tzinfo=UTC)
    assert raw.event.ts.utcoffset() == timedelta(hours=2)
