"""The msgspec fast path accepts only what the event model accepts, and reads it the same way.

Bodies are generated valid, near the limits, and mutated (wrong types, lengths one over, odd
time and id spellings, unknown fields); for every one, the collector's parse (fast path first)
must equal the models' own parse: the same events, ids, times and the same rejections.
"""

from __future__ import annotations

import string
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from schemas import fast_events as fast_module
from schemas.events import Event, EventType
from schemas.fast_events import fast_events
from services.collector import ingest

MODELS: TypeAdapter[list[Event]] = TypeAdapter(list[Event])


def _text(low: int, high: int, alphabet: str | None = None) -> st.SearchStrategy[str]:
    chars = st.sampled_from(alphabet) if alphabet else st.characters(codec="utf-8")
    return st.text(chars, min_size=low, max_size=high)


def _over(limit: int) -> st.SearchStrategy[str]:
    """Text at its limit or one over."""
    return st.sampled_from([limit, limit + 1]).map(lambda n: "x" * n)


def _spell_time(when: datetime, offset: str, fraction: str, sep: str) -> str:
    """``when`` as text in one of the spellings clients send (valid or not)."""
    shifted = when
    # An offset of 24 h or more is no time zone: spelt as it is, so the models refuse it.
    if offset[:1] in ("+", "-") and "00" < offset[1:3] < "24":
        sign = 1 if offset[0] == "+" else -1
        span = timedelta(hours=int(offset[1:3]), minutes=int(offset[-2:]))
        shifted = when.astimezone(timezone(sign * span))
    return shifted.strftime(f"%Y-%m-%d{sep}%H:%M:%S") + fraction + offset


MOMENTS = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)
EDGE_MOMENTS = st.sampled_from(
    [datetime(1999, 12, 31, 23, 59, 59, 999999), datetime(2100, 1, 1), datetime(2000, 1, 1)]
).map(lambda d: d.replace(tzinfo=UTC))
VISITOR = string.ascii_letters + string.digits + "_-"
PROP_VALUES = st.one_of(
    _text(0, 256),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)

# Every field valid: text within its limits, times in range in RFC 3339 spellings.
VALID: dict[str, st.SearchStrategy[Any]] = {
    "event_id": st.uuids().flatmap(lambda u: st.sampled_from([str(u), str(u).upper(), u.hex])),
    "type": st.sampled_from([t.value for t in EventType]),
    "ts": st.builds(
        _spell_time,
        MOMENTS,
        st.sampled_from(["Z", "+00:00", "+05:30", "-08:00"]),
        st.sampled_from(["", ".5", ".123", ".123456"]),
        st.just("T"),
    ),
    "visitor_id": st.one_of(st.none(), _text(8, 64, VISITOR)),
    "consent_id": st.one_of(st.none(), _text(0, 64)),
    "page": st.fixed_dictionaries(
        {"url": _text(0, 100)}, optional={"title": _text(0, 256), "referrer": _text(0, 50)}
    ),
    "cookies": st.lists(
        st.fixed_dictionaries(
            {"name": _text(0, 20)},
            optional={"category": st.sampled_from(["analytics", "unknown", "necessary"])},
        ),
        max_size=3,
    ),
    "browser": st.fixed_dictionaries(
        {}, optional={"language": _text(0, 35), "screen": _text(0, 20)}
    ),
    "props": st.dictionaries(_text(1, 64), PROP_VALUES, max_size=20),
}
JUNK = st.one_of(st.none(), st.integers(), st.floats(), st.booleans(), st.lists(st.integers()))
# One field at a time set to something near or past the edge of the contract.
EDGES: dict[str, st.SearchStrategy[Any]] = {
    "event_id": st.one_of(
        JUNK,
        st.uuids().flatmap(
            lambda u: st.sampled_from([f"{{{u}}}", f"urn:uuid:{u}", str(u)[:-1], f"{u}\n"])
        ),
    ),
    "type": st.one_of(JUNK, st.sampled_from(["PageView", "", "pageview "])),
    "ts": st.one_of(
        JUNK,
        st.builds(
            _spell_time,
            st.one_of(MOMENTS, EDGE_MOMENTS),
            st.sampled_from(["", "Z", "z", "-00:00", "+23:59", "+0100", "+01", "+24:00"]),
            st.sampled_from(["", ".", ".1234567", ".999999999", ",5", ".000000001"]),
            st.sampled_from(["T", "t", " "]),
        ),
    ),
    "visitor_id": st.one_of(JUNK, _text(0, 9, VISITOR + "\n é"), _over(64), st.just("abcdefgh\n")),
    "consent_id": st.one_of(JUNK, _over(64)),
    "page": st.one_of(
        JUNK,
        st.just({}),
        st.fixed_dictionaries({"url": _over(2048)}),
        st.just({"url": "u", "title": 1}),
        st.just({"url": "u", "extra": 1}),
    ),
    "cookies": st.one_of(
        JUNK, st.just([{"name": "a", "category": "Other"}]), st.just([{"name": "a"}] * 101)
    ),
    "browser": st.one_of(JUNK, st.fixed_dictionaries({"screen": _over(20)})),
    "props": st.one_of(
        JUNK,
        st.dictionaries(_text(0, 66), st.one_of(PROP_VALUES, JUNK), max_size=21),
        st.sampled_from([{"n": 2**53 + 1}, {"n": 2**60}, {"n": -(2**60)}, {"s": "9" * 300}]),
        st.just({f"p{i}": i for i in range(21)}),
    ),
}


def _event() -> st.SearchStrategy[dict[str, Any]]:
    """A valid event, half the time with one field pushed to an edge, dropped or added."""
    required = {k: VALID[k] for k in ("event_id", "type", "ts")}
    optional = {k: v for k, v in VALID.items() if k not in required}
    valid = st.fixed_dictionaries(required, optional=optional)
    change = st.one_of(
        st.none(),
        st.sampled_from(sorted(EDGES)).flatmap(
            lambda name: EDGES[name].map(lambda value: (name, value))
        ),
        st.sampled_from([("drop", "event_id"), ("drop", "ts"), ("surprise", 1)]),
    )
    return st.tuples(valid, change).map(lambda pair: _changed(*pair))


def _changed(event: dict[str, Any], change: tuple[str, Any] | None) -> dict[str, Any]:
    if change is None:
        return event
    name, value = change
    if name == "drop":
        return {k: v for k, v in event.items() if k != value}
    return event | {name: value}


def _read(batch: ingest.ParsedBatch) -> list[tuple[int, uuid.UUID, datetime, str | None]]:
    return [(i, e.event_id, e.ts, e.visitor_id) for i, e in batch.events]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_event(), min_size=1, max_size=3))
def test_the_fast_path_accepts_a_subset_of_the_models_read_alike(items: list[Any]) -> None:
    fast = fast_events(items)
    try:
        models = MODELS.validate_python(items)
    except ValidationError:
        assert fast is None, "the fast path accepted what the models refuse"
        return
    if fast is not None:
        read_fast = [(e.event_id, e.type, e.ts, e.visitor_id) for e in fast]
        assert read_fast == [(e.event_id, e.type, e.ts, e.visitor_id) for e in models]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_event(), min_size=1, max_size=3))
def test_the_collector_parses_as_the_models_alone_would(items: list[Any]) -> None:
    with_fast = ingest.parse_events({"events": items})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ingest, "fast_events", lambda _items: None)
        models_only = ingest.parse_events({"events": items})
    assert _read(with_fast) == _read(models_only)
    assert with_fast.rejected == models_only.rejected


def test_a_realistic_batch_takes_the_fast_path() -> None:
    event = {
        "event_id": str(uuid.uuid4()),
        "type": "pageview",
        "ts": "2026-05-04T10:00:00.123Z",
        "page": {"url": "https://www.example.com/", "title": "Home"},
        "browser": {"language": "en-GB"},
        "props": {"section": "home", "step": 1, "ratio": 0.5, "new": True, "none": None},
    }
    decoded = fast_events([event, event | {"event_id": uuid.uuid4().hex}])
    assert decoded is not None
    assert decoded[0].ts == datetime(2026, 5, 4, 10, 0, 0, 123000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("visitor_id", "abcdefgh\n"),  # Python's "$" matches before a final newline
        ("ts", "1999-12-31T23:59:59.9999999Z"),  # msgspec rounds up into range; models refuse
        ("ts", "2026-05-04T10:00:00.1234567Z"),  # read differently: sent to the models
        ("ts", "2100-01-01T00:00:00Z"),
        ("props", {"big": 2**60}),  # the models read it as a float; the fast path defers
    ],
)
def test_edge_cases_go_to_the_models(field: str, value: Any) -> None:
    event = {"event_id": str(uuid.uuid4()), "type": "click", "ts": "2026-05-04T10:00:00Z"}
    assert fast_events([event]) is not None
    assert fast_events([event | {field: value}]) is None


def test_the_fast_event_has_the_models_fields() -> None:
    assert fast_module.FastEvent.__struct_fields__ == tuple(Event.model_fields)
