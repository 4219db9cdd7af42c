"""The worker's msgspec decode of raw messages: a subset of the models, stored and parked alike.

Raw messages are generated around the event bodies of test_fast_events (valid, at the edges,
mutated) with their request facts and times also valid or mutated, and spelt as JSON with some
characters of their strings escaped and some keys given twice; for every one, either the fast
path declines, or orjson and the models accept it too and the pipeline stores the same row from
either reading, and a dead letter of the fast reading reads back as the models' event.
"""

from __future__ import annotations

from dataclasses import dataclass
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
from tests.unit.test_fast_events import JUNK, VALID, _event
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
    "schema_version": st.one_of(
        st.just(1), st.just(2), JUNK, st.just("1"), st.sampled_from([2**64, -(2**63) - 1, 2**99])
    ),
}


def _valid_batches() -> st.SearchStrategy[dict[str, Any]]:
    """Batches the models accept: what JSON spellings are tried on, so most are read fast."""
    required = {k: VALID[k] for k in ("event_id", "type", "ts")}
    optional = {k: v for k, v in VALID.items() if k not in required}
    event = st.fixed_dictionaries(required, optional=optional)
    return st.fixed_dictionaries(
        {
            "events": st.lists(event, min_size=1, max_size=3),
            "facts": st.fixed_dictionaries({"ip": st.just("198.51.100.42")}),
            # Seven fraction digits: pydantic-core truncates them, msgspec would round them.
            "received_at": st.sampled_from(
                ["2026-05-04T10:00:00.123456+02:00", "2026-05-04T09:59:59.9999995Z"]
            ),
        },
        optional={"sent_at": st.just("2026-05-04T09:59:59Z")},
    )


def _messages() -> st.SearchStrategy[dict[str, Any]]:
    batch = st.fixed_dictionaries(
        {"events": st.lists(_event(), min_size=0, max_size=3), **ENVELOPE}, optional=OPTIONAL
    )
    single = st.fixed_dictionaries({"event": _event(), **ENVELOPE}, optional=OPTIONAL)
    surprise = st.sampled_from([{"event": 1, "events": []}, {"events": [], "other": 1}])
    return st.one_of(batch, single, surprise)


# What a key given twice holds first (the last one is the message's own value).
SHADOWED = st.one_of(
    JUNK, st.sampled_from(["2026-05-04T10:00:00.1234567Z", "x", {"url": "u"}, [], {}])
)


@dataclass(frozen=True)
class Spelling:
    """How one message is spelt as JSON: each of its choices drawn from ``data``."""

    data: st.DataObject
    escaping: bool
    """Some strings have none, some or all of their characters as ``\\u`` escapes."""
    repeating: bool
    """Some keys come twice, first with another value (or the same): orjson reads the last."""

    def json(self, value: Any) -> str:
        """``value`` as JSON text."""
        if isinstance(value, dict):
            return "{" + ",".join(self._members(value)) + "}"
        if isinstance(value, list):
            return "[" + ",".join(self.json(item) for item in value) + "]"
        if isinstance(value, str):
            return self._string(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)  # any size: orjson reads one past 64 bits as a float
        return orjson.dumps(value).decode()

    def _members(self, value: dict[str, Any]) -> list[str]:
        members = []
        for key, item in value.items():
            name = self._string(key)
            # Hypothesis favours a range's ends: the choices are in its middle, most often the
            # same value twice (a message still read fast), sometimes another one.
            repeat = self.data.draw(st.integers(0, 31)) if self.repeating else 0
            if 10 <= repeat <= 16:
                first = self.data.draw(SHADOWED) if repeat == 10 else item
                members.append(f"{name}:{self.json(first)}")
            members.append(f"{name}:{self.json(item)}")
        return members

    def _string(self, text: str) -> str:
        how = self.data.draw(st.integers(0, 15)) if text and self.escaping else 0
        # An escaped dot or digit sends the message to the models: mostly other characters.
        some = [i for i, c in enumerate(text) if how == 8 or c not in ".0123456789"]
        chosen: set[int] = set()
        if how == 7:
            chosen = set(range(len(text)))
        elif 8 <= how <= 11 and some:
            chosen = self.data.draw(st.sets(st.sampled_from(some), min_size=1))
        return '"' + "".join(_char(c, i in chosen) for i, c in enumerate(text)) + '"'


def _char(char: str, escaped: bool) -> str:
    if not escaped:
        return orjson.dumps(char).decode()[1:-1]
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000  # a surrogate pair
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def _models(value: bytes) -> list[RawEvent] | None:
    """The events as the worker read them before the fast path: orjson, then the models."""
    try:
        return agent.raw_events_of(agent.RAW_MESSAGE.validate_python(orjson.loads(value)))
    except (ValidationError, orjson.JSONDecodeError):
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
@given(_messages(), st.data())
def test_the_fast_path_accepts_a_subset_and_the_pipeline_reads_it_alike(
    doc: Any, data: st.DataObject
) -> None:
    spelling = Spelling(data, escaping=data.draw(st.booleans()), repeating=data.draw(st.booleans()))
    _fast_reads_as_the_models(spelling.json(doc).encode())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_valid_batches(), st.data(), st.booleans())
def test_escapes_and_repeated_keys_are_read_as_orjson_reads_them(
    doc: Any, data: st.DataObject, escaping: bool
) -> None:
    _fast_reads_as_the_models(Spelling(data, escaping, repeating=not escaping).json(doc).encode())


def _fast_reads_as_the_models(value: bytes) -> bool:
    """The fast path refuses ``value`` or reads it as orjson and the models do: True if read."""
    fast = fast_raw_events(value)
    models = _models(value)
    if models is None:
        assert fast is None, "the fast path accepted what the models refuse"
        return False
    if fast is None:
        return False
    assert len(fast) == len(models)
    for quick, model in zip(fast, models, strict=True):
        assert _stored(quick) == _stored(model)
        assert RawEvent.model_validate_json(raw_event_json(quick)) == model
    return True


MESSAGE = (
    '{"events":[{"event_id":"0b5e8f4c-0d3e-4a5b-9c2d-1e2f3a4b5c6d","type":"pageview",'
    '"ts":"2026-05-04T10:00:00Z","visitor_id":"visitor_0001","page":{"url":"https://example.com/",'
    '"title":"Home"},"props":{"n":1}}],"facts":{"ip":"192.0.2.1"},"received_at":"2026-05-04T10:00:01Z"}'
)


@pytest.mark.parametrize(
    ("spelt", "instead", "read_fast"),
    [
        ('"n":1', '"n":NaN', False),
        ('"n":1', '"n":-Infinity', False),
        ('"n":1', '"n":1e400', False),
        ('"n":1', '"n":9007199254740993', False),
        ('"n":1', '"n":18446744073709551616', False),  # orjson: a float, which the models take
        ('"n":1', '"n":123456789012345678901234567890', False),
        ('"n":1', '"n":"x","n":1', True),
        ('"n":1', '"n":1,"n":"x"', True),
        ('"ts":', '"ts":"2000-01-01T00:00:00Z","ts":', True),
        ('"ts":', '"ts":"yesterday","ts":', False),  # the models read only the last: valid
        ('"events":', '"events":[],"events":', False),
        ('"received_at"', '"schema_version":18446744073709551616,"received_at"', False),
        ('"received_at"', '"schema_version":-9223372036854775809,"received_at"', False),
        ('"received_at"', '"schema_version":2,"received_at"', True),
        ('"page":{', '"page":null,"page":{', True),
        ("10:00:00Z", "10:00:00.1234567Z", False),
        ("10:00:00Z", "10:00:00\\u002e1234567Z", False),  # rounded by msgspec, cut by the models
        ("10:00:00Z", "10:00:00\\u005a", True),
        ('"Home"', '"Caf\u00e9 \u2615 \\"quoted\\" \\\\ \\/"', True),
        ('"Home"', '"\\ud83d\\ude00\\u0001"', True),
        ('"Home"', '"\\ud800"', False),
        ('"visitor_0001"', '"visitor_0001\\n"', False),
        ('"visitor_0001"', '"visitor_\\u0030001"', False),
        ('"type"', '"t\\u0079pe"', True),
    ],
)
def test_json_spellings_are_read_as_orjson_reads_them_or_left_to_the_models(
    spelt: str, instead: str, read_fast: bool
) -> None:
    value = MESSAGE.replace(spelt, instead, 1).encode()
    assert instead in value.decode()
    assert _fast_reads_as_the_models(value) is read_fast


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
    assert fast_raw_events(orjson.dumps(doc)) is None
    [raw] = agent.decode_raw_events(orjson.dumps(doc))
    assert isinstance(raw, RawEvent)
    dropped = _stored(raw)
    assert isinstance(dropped, tuple) and dropped[0] == pipeline.Dropped(
        "naive_timestamp", "ts: a time without a zone", dead_letter=True
    )


def test_times_keep_their_zone_and_instant() -> None:
    doc = orjson.loads(raw_event().model_dump_json())
    doc["event"]["ts"] = "2026-05-04T12:00:00.5+02:00"
    [raw] = fast_raw_events(orjson.dumps(doc)) or []
    assert raw.event.ts == datetime(2026, 5, 4, 10, 0, 0, 500000, tzinfo=UTC)
    assert raw.event.ts.utcoffset() == timedelta(hours=2)
