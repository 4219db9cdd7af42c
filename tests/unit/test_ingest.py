"""Body parsing of POST /v1/events: what a client sending odd input gets back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.event_time import TimeWindow
from services.collector import ingest
from services.collector.errors import (
    BadRequest,
    CollectorError,
    InvalidBatch,
    PayloadTooLarge,
    UnsupportedMedia,
)


def event(**extra: object) -> dict[str, object]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "pageview",
        "ts": "2026-05-04T10:00:00Z",
        **extra,
    }


def test_bare_event_and_batch_both_parse() -> None:
    assert len(ingest.parse_events(event()).events) == 1
    batch = ingest.parse_events({"events": [event(), event()], "sent_at": "2026-05-04T10:00:01Z"})
    assert len(batch.events) == 2 and batch.sent_at is not None


def test_invalid_events_are_rejected_by_index_with_the_field_named() -> None:
    batch = ingest.parse_events({"events": [event(), event(type="bogus"), {"type": "pageview"}]})
    assert [i for i, _ in batch.events] == [0]
    assert [r.index for r in batch.rejected] == [1, 2]
    assert "type" in batch.rejected[0].error
    assert "event_id" in batch.rejected[1].error


def test_cookie_values_are_not_accepted() -> None:
    batch = ingest.parse_events(event(cookies=[{"name": "_ga", "value": "GA1.2.3"}]))
    assert batch.rejected and "value" in batch.rejected[0].error


@pytest.mark.parametrize("body", [b"{", b"\xff\xfe", b"", b"[1,"])
def test_invalid_json_is_a_400(body: bytes) -> None:
    with pytest.raises(BadRequest):
        ingest.load_json(body)


@pytest.mark.parametrize(
    "document", [[], "x", 3, {"events": []}, {"events": "x"}, {"events": [], "x": 1}]
)
def test_wrong_shapes_are_a_422(document: object) -> None:
    # JSON that parsed but is not a batch or an event: the schema refuses it, as for any field
    with pytest.raises(InvalidBatch):
        ingest.parse_events(document)


def test_too_many_events_is_a_413() -> None:
    with pytest.raises(PayloadTooLarge):
        ingest.parse_events({"events": [event() for _ in range(501)]})


def test_content_types() -> None:
    ingest.check_content_type("application/json; charset=utf-8")
    ingest.check_content_type("text/plain;charset=UTF-8")
    ingest.check_content_type(None)
    with pytest.raises(UnsupportedMedia):
        ingest.check_content_type("application/x-www-form-urlencoded")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_any_json_document_gets_a_client_error_or_a_parse(document: object) -> None:
    try:
        batch = ingest.parse_events(document)
    except CollectorError as exc:
        assert 400 <= exc.status_code < 500
    else:
        assert len(batch.events) + len(batch.rejected) >= 1


@given(st.binary(max_size=200))
def test_any_bytes_parse_or_give_400(body: bytes) -> None:
    try:
        ingest.parse_events(ingest.load_json(body))
    except CollectorError as exc:
        assert exc.status_code in (400, 413, 422)


def test_orjson_roundtrip_of_rejections() -> None:
    batch = ingest.parse_events({"events": [{"nope": 1}]})
    assert orjson.loads(orjson.dumps([r.model_dump() for r in batch.rejected]))[0]["index"] == 0


def test_a_batch_with_one_bad_event_is_rejected_by_index_like_one_validated_alone() -> None:
    items = [event(), event(), event(type="bogus"), event()]
    batch = ingest.parse_events({"events": items})
    assert [i for i, _ in batch.events] == [0, 1, 3]
    alone = ingest.parse_events(items[2])
    assert [r.model_dump() for r in batch.rejected] == [
        {**r.model_dump(), "index": 2} for r in alone.rejected
    ]


def test_events_outside_the_time_window_move_to_rejected_in_index_order() -> None:
    received = datetime(2026, 5, 4, 10, 0, 5, tzinfo=UTC)
    batch = ingest.parse_events(
        {
            "events": [
                event(ts="2000-01-01T00:00:00Z"),
                event(type="bogus"),
                event(),
                event(ts="2026-05-04T12:00:00Z"),
            ],
            "sent_at": "2026-05-04T10:00:01Z",
        }
    )
    ingest.refuse_out_of_window(batch, received, TimeWindow())
    assert [i for i, _ in batch.events] == [2]
    assert [r.index for r in batch.rejected] == [0, 1, 3]
    assert batch.rejected[0].error.startswith("ts:") and batch.rejected[2].error.startswith("ts:")


def test_a_sent_at_a_century_ahead_rejects_an_event_from_2000() -> None:
    batch = ingest.parse_events(
        {"events": [event(ts="2000-01-01T00:00:00Z")], "sent_at": "2099-12-31T00:00:00Z"}
    )
    ingest.refuse_out_of_window(batch, datetime(2026, 5, 4, tzinfo=UTC), TimeWindow())
    assert not batch.events and "1926" in batch.rejected[0].error


def test_every_spelling_of_an_event_id_has_one_dedupe_text() -> None:
    """A retry spelling its id differently is still the same event to dedupe."""
    event_id = uuid.uuid4()
    spellings = [str(event_id), str(event_id).upper(), event_id.hex, f"urn:uuid:{event_id}"]
    base = {"type": "pageview", "ts": datetime.now(UTC).isoformat()}
    batch = ingest.parse_events({"events": [base | {"event_id": s} for s in spellings]})
    assert ingest.event_ids(batch) == [str(event_id)] * 4
