"""Where ``dlq replay`` sends a dead letter, and under which key (as the collector keys it)."""

from __future__ import annotations

import uuid

import orjson
import pytest

from consentstream.dead_letters import replay_target
from consentstream.identity import pseudonymize
from consentstream.topics import Topics

TOPICS = Topics("unit.")
SECRET = "dlq-unit-key"


def letter(value: object, topic: str | None = TOPICS.raw_events) -> bytes:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    parked: dict[str, object] = {"reason": "invalid: 1 errors", "value": text}
    if topic is not None:
        parked["topic"] = topic
    return orjson.dumps(parked)


def test_events_go_back_to_the_raw_topic_keyed_by_the_visitor_pseudonym() -> None:
    value = {"event": {"visitor_id": "visitor_dlq_1", "event_id": str(uuid.uuid4())}}
    topic, key, body = replay_target(letter(value), TOPICS, SECRET)
    assert topic == TOPICS.raw_events
    assert key == pseudonymize("visitor_dlq_1", SECRET).encode()
    assert orjson.loads(body) == value


def test_anonymous_events_are_keyed_by_event_id_and_old_letters_default_to_raw() -> None:
    event_id = uuid.uuid4()
    value = {"event": {"visitor_id": None, "event_id": str(event_id)}}
    topic, key, _ = replay_target(letter(value, topic=None), TOPICS, SECRET)
    assert topic == TOPICS.raw_events and key == event_id.bytes


def test_a_batch_is_replayed_whole_keyed_by_its_first_event() -> None:
    visitor = {"visitor_id": "visitor_dlq_3", "event_id": str(uuid.uuid4())}
    value = {"events": [visitor, {**visitor, "event_id": "broken"}], "facts": {}}
    topic, key, body = replay_target(letter(value), TOPICS, SECRET)
    assert topic == TOPICS.raw_events and orjson.loads(body) == value
    assert key == pseudonymize("visitor_dlq_3", SECRET).encode()
    first = uuid.uuid4()
    anonymous = {"events": [{"event_id": str(first)}, {"event_id": str(uuid.uuid4())}]}
    assert replay_target(letter(anonymous), TOPICS, SECRET)[1] == first.bytes


def test_consent_decisions_go_back_to_the_consent_topic() -> None:
    topic, key, _ = replay_target(
        letter({"visitor_id": "visitor_dlq_2"}, TOPICS.consent), TOPICS, SECRET
    )
    assert topic == TOPICS.consent and key == pseudonymize("visitor_dlq_2", SECRET).encode()


def test_unparseable_values_are_still_replayed_under_a_random_key() -> None:
    topic, key, body = replay_target(letter("not json at all"), TOPICS, SECRET)
    assert topic == TOPICS.raw_events and len(key) == 16 and body == b"not json at all"


@pytest.mark.parametrize(
    "bad",
    [b"[]", b'{"reason": "x"}', letter({}, "someone.elses.topic")],
)
def test_what_is_not_our_dead_letter_is_refused(bad: bytes) -> None:
    with pytest.raises(ValueError):
        replay_target(bad, TOPICS, SECRET)
