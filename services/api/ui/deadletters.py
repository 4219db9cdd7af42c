"""The dead-letter topic for the console: how many letters it holds, how many await replay.

Blocking kafka-python calls (run in a thread). Replay itself is
``consentstream.dead_letters.replay`` (the ``consentstream dlq replay`` command), so the console
and the CLI re-feed letters the same way and share the progress of the ``<prefix>dlq-replay``
group.
"""

from __future__ import annotations

from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from consentstream.topics import Topics

TIMEOUT_MS = 5000


@dataclass(frozen=True)
class Backlog:
    """Letters kept in the topic, and those after the replay group's committed offsets."""

    kept: int
    waiting: int


def backlog(bootstrap: str, topics: Topics) -> Backlog | None:
    """Count the dead letters kept and those not yet replayed; None when Kafka does not answer."""

    try:
        return _count(bootstrap, topics)
    except KafkaError:
        return None


def _count(bootstrap: str, topics: Topics) -> Backlog:
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap.split(","),
        group_id=f"{topics.prefix}dlq-replay",
        enable_auto_commit=False,
        request_timeout_ms=TIMEOUT_MS + 1000,
    )
    try:
        parts = consumer.partitions_for_topic(topics.dead_letters) or set()
        assigned = [TopicPartition(topics.dead_letters, p) for p in sorted(parts)]
        if not assigned:
            return Backlog(0, 0)
        first = consumer.beginning_offsets(assigned)
        end = consumer.end_offsets(assigned)
        kept = waiting = 0
        for tp in assigned:
            kept += end[tp] - first[tp]
            done = consumer.committed(tp)
            waiting += end[tp] - max(first[tp], done or 0)
        return Backlog(kept, waiting)
    finally:
        consumer.close()
