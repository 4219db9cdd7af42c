"""Every Kafka topic of one run, read back with kafka-python, for scanning for raw values."""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    # kafka-python 3.x reads its protocol schemas with importlib.resources' legacy API.
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaConsumer, TopicPartition


def run_topics(bootstrap: str, prefixes: tuple[str, ...]) -> list[str]:
    """The topics whose names start with one of ``prefixes`` (the run's and its worker's)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","))
    try:
        return sorted(t for t in consumer.topics() if t.startswith(prefixes))
    finally:
        consumer.close()


def read_all(bootstrap: str, topic: str) -> list[tuple[bytes, bytes]]:
    """Every ``(key, value)`` of ``topic`` up to its end when called (None as b"")."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        end = consumer.end_offsets(parts)
        records: list[tuple[bytes, bytes]] = []
        for _ in range(120):
            if all(consumer.position(p) >= end[p] for p in parts):
                return records
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend((r.key or b"", r.value or b"") for r in batch)
        raise AssertionError(f"{topic} not read to its end")
    finally:
        consumer.close()


def kafka_dump(bootstrap: str, prefixes: tuple[str, ...]) -> dict[str, list[tuple[bytes, bytes]]]:
    """Every record of every topic of the run, by topic."""
    return {topic: read_all(bootstrap, topic) for topic in run_topics(bootstrap, prefixes)}
