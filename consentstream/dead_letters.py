"""Dead letters: messages the worker could not process, parked with the reason, and replay.

The worker writes ``{"reason", "topic", "value"}`` to the dead-letter topic. After a fix
(a schema change, a bug in the worker) :func:`replay`, run by ``consentstream dlq replay``,
feeds every dead letter not replayed before back to the topic it came from, keyed as the
collector keys it (a raw batch by its first event: a batch holds one visitor's events, or only
anonymous ones), so it takes the normal path again (and is dead-lettered again if it still
fails). A sealed message (``consentstream.sealing``) goes back sealed, keyed by the subject
its envelope names; if that subject was erased meanwhile the worker drops it unread. Progress
is the consumer group ``<prefix>dlq-replay``: offsets are committed only after
Kafka acknowledged the re-sent messages, so a crash mid-replay re-sends (harmless: event ids
make inserts idempotent) and never skips.

A letter of an erased subject (on the suppression list) is never re-sent: replay brings
nothing of theirs back, and the worker would drop it anyway.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from redis import Redis as SyncRedis

from consentstream.identity import pseudonymize
from consentstream.sealing import is_sealed, read_envelope
from consentstream.shredding import is_anonymous
from consentstream.suppression import is_suppressed
from consentstream.topics import Topics

if TYPE_CHECKING:
    from kafka import KafkaProducer


_PSEUDONYM = re.compile(rb"[0-9a-f]{32}")
"""What a visitor's message key looks like (an anonymous event's is 16 raw bytes; an anonymous
decision's consent id looks alike, and is never on the suppression list)."""


@dataclass
class ReplayReport:
    """How many dead letters went back to each topic, and how many were unreadable."""

    replayed: Counter[str] = field(default_factory=Counter)
    unreadable: int = 0
    erased: int = 0
    """Letters of erased subjects, left out."""


def _first_event(value: object) -> dict[str, Any] | None:
    """The event a raw message is keyed by: a RawEvent's, or a RawBatch's first."""
    if not isinstance(value, dict):
        return None
    event = value.get("event")
    events = value.get("events")
    if event is None and isinstance(events, list) and events:
        event = events[0]
    return event if isinstance(event, dict) else None


def _visitor_id(topic: str, topics: Topics, value: dict[str, Any]) -> str | None:
    """The raw visitor id a message is keyed by: the event's or the decision's."""
    if topic == topics.consent:
        vid = value.get("visitor_id")
    else:
        event = _first_event(value)
        vid = event.get("visitor_id") if event else None
    return vid if isinstance(vid, str) and vid else None


def replay_target(letter: bytes, topics: Topics, key_secret: str) -> tuple[str, bytes, bytes]:
    """Topic, key and value to re-send a dead letter as; ValueError if it is not one of ours."""
    parked = orjson.loads(letter)
    if not isinstance(parked, dict) or not isinstance(parked.get("value"), str):
        raise ValueError("not a dead letter")
    topic = parked.get("topic") or topics.raw_events
    if topic not in (topics.raw_events, topics.consent):
        raise ValueError("dead letter from an unknown topic")
    value = parked["value"].encode()
    if is_sealed(value):
        return topic, _sealed_key(value), value
    try:
        body = orjson.loads(value)
    except orjson.JSONDecodeError:
        body = None
    vid = _visitor_id(topic, topics, body) if isinstance(body, dict) else None
    if vid:
        return topic, pseudonymize(vid, key_secret).encode(), value
    return topic, _event_id_key(body), value


def _sealed_key(value: bytes) -> bytes:
    """A sealed message's key: its visitor's pseudonym, a random one when anonymous."""
    envelope = read_envelope(value)
    if envelope is None or is_anonymous(envelope[0]):
        return uuid.uuid4().bytes
    return envelope[0].encode()


def _event_id_key(body: object) -> bytes:
    """Anonymous events are keyed by the (first) event's id, as the collector does."""
    event = _first_event(body)
    try:
        return uuid.UUID(str(event.get("event_id") if event else "")).bytes
    except ValueError:
        return uuid.uuid4().bytes


def replay(
    bootstrap: str, topics: Topics, key_secret: str, *, redis: SyncRedis, timeout: float = 30.0
) -> ReplayReport:
    """Re-send every dead letter not yet replayed, up to the end the topic had at the start.

    Letters whose subject was erased (the suppression list in ``redis``, the deployment's Redis
    or Redis Cluster; the caller closes it) are skipped and counted as such.
    """
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition  # slow import: CLI only

    servers = bootstrap.split(",")
    consumer = KafkaConsumer(
        bootstrap_servers=servers,
        group_id=f"{topics.prefix}dlq-replay",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    producer = KafkaProducer(bootstrap_servers=servers, acks="all")
    report = ReplayReport()
    try:
        parts = consumer.partitions_for_topic(topics.dead_letters) or set()
        assigned = [TopicPartition(topics.dead_letters, p) for p in sorted(parts)]
        consumer.assign(assigned)  # no group join: the group only keeps our offsets
        end = consumer.end_offsets(assigned)
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < end[tp] for tp in assigned):
            if time.monotonic() > deadline:
                raise TimeoutError("dead-letter topic not read to its end in time")
            for records in consumer.poll(timeout_ms=500).values():
                for message in records:
                    _resend(producer, redis, message.value, (topics, key_secret), report)
        producer.flush()
        consumer.commit()
    finally:
        producer.close()
        consumer.close()
    return report


def _resend(
    producer: KafkaProducer,
    redis: SyncRedis,
    letter: bytes,
    keys: tuple[Topics, str],
    report: ReplayReport,
) -> None:
    topics, secret = keys
    try:
        topic, key, value = replay_target(letter, topics, secret)
    except ValueError:
        report.unreadable += 1
        return
    if _PSEUDONYM.fullmatch(key) and is_suppressed(redis, key.decode()):
        report.erased += 1
        return
    producer.send(topic, key=key, value=value)
    report.replayed[topic] += 1
