"""How the collector packs a request's events into Kafka messages (one per visitor key)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
import pytest

from consentstream import redis_keys
from consentstream.identity import pseudonymize
from schemas.events import Event
from schemas.messages import RawBatch, RequestFacts
from services.collector import batching, dedupe

SECRET = "batching-unit-key"
FACTS = RequestFacts(ip="192.0.2.1", user_agent="UA", gpc=True)
AT = datetime(2026, 11, 28, 12, tzinfo=UTC)


def event(visitor: str | None = None, title: str = "T") -> Event:
    return Event.model_validate(
        {
            "event_id": str(uuid.uuid4()),
            "type": "pageview",
            "ts": "2026-11-28T11:59:59Z",
            "visitor_id": visitor,
            "page": {"url": "https://example.com/", "title": title},
        }
    )


def accepted(events: list[Event]) -> list[batching.Accepted]:
    """Each event with a JSON item it validates from, as the collector pairs them."""
    return [(e, e.model_dump(mode="json")) for e in events]


def items(events: list[Event]) -> list[object]:
    return [item for _, item in accepted(events)]


def test_one_message_per_visitor_and_one_for_all_anonymous_events() -> None:
    events = [event("visitor_a1"), event(), event("visitor_b1"), event(), event("visitor_a1")]
    out = batching.messages(accepted(events), batching.visitor_keys(SECRET), FACTS, AT, None)
    assert len(out) == 3
    batches = {key: RawBatch.model_validate_json(value) for key, value in out}
    alice = batches[pseudonymize("visitor_a1", SECRET).encode()]
    assert alice.events == [events[0], events[4]] and alice.facts == FACTS
    assert batches[events[1].event_id.bytes].events == [events[1], events[3]]
    assert batches[pseudonymize("visitor_b1", SECRET).encode()].received_at == AT


def test_a_visitor_is_pseudonymized_once_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def counting(vid: str, key: str) -> str:
        calls.append(vid)
        return pseudonymize(vid, key)

    monkeypatch.setattr(batching, "pseudonymize", counting)
    key_of = batching.visitor_keys(SECRET)
    keys = {key_of(event("visitor_a1")) for _ in range(5)}
    assert len(keys) == 1 and calls == ["visitor_a1"]


def test_a_batch_over_the_message_limit_is_split_and_loses_nothing() -> None:
    events = [event("visitor_big1", title="x" * 200) for _ in range(40)]
    values = batching.encode(items(events), FACTS, AT, None, limit=4000)
    assert len(values) > 1 and all(len(v) <= 4000 for v in values)
    back = [e for v in values for e in RawBatch.model_validate_json(v).events]
    assert back == events


def test_a_batch_splits_into_events_sharing_the_request_facts() -> None:
    events = [event("visitor_a1"), event("visitor_a1")]
    batch = RawBatch.model_validate_json(batching.encode(items(events), FACTS, AT, AT)[0])
    raws = batch.raw_events()
    assert [r.event for r in raws] == events
    assert all(r.facts == FACTS and r.received_at == AT and r.sent_at == AT for r in raws)
    assert orjson.loads(raws[0].model_dump_json())["facts"]["gpc"] is True


def test_the_message_carries_each_event_as_sent_and_reads_back_as_the_same_event() -> None:
    sent = {
        "event_id": str(uuid.uuid4()).upper(),
        "type": "click",
        "ts": "2026-11-28T13:00:00.5+01:00",
        "props": {"step": 2.0, "label": "next"},
    }
    valid = Event.model_validate(sent)
    value = batching.messages([(valid, sent)], batching.visitor_keys(SECRET), FACTS, AT, None)
    document = orjson.loads(value[0][1])
    assert document["events"] == [sent]
    assert document["received_at"] == "2026-11-28T12:00:00Z"
    assert RawBatch.model_validate_json(value[0][1]).events == [valid]


def test_dedupe_keys_of_a_batch_are_spelled_as_one_at_a_time() -> None:
    ids = [str(uuid.uuid4()), str(uuid.uuid4()).upper(), "", "x"]
    assert dedupe.dedupe_keys(ids) == [redis_keys.dedupe(i) for i in ids]
    with pytest.raises(ValueError):
        dedupe.dedupe_keys(["{not-an-id}"])
