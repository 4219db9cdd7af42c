"""The audit chain's newest head, kept outside ClickHouse so a cut tail is noticed.

Whoever can delete rows from ClickHouse can drop the newest audit entries, and what is left
still verifies as a chain. So every append publishes its head (seq and hash) to a compacted
Kafka topic keyed by the chain (the ClickHouse database), and writes it to the log: two places
a ClickHouse writer does not control. ``consentstream audit verify`` reads the newest head back
and checks the chain reaches it.

Publishing happens after the entry is stored: when Kafka is down the head is only logged and
the anchor lags, which verification tolerates (a chain longer than its anchor is fine; one
shorter is not).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

log = logging.getLogger(__name__)

_TIMEOUT_MS = 5_000


@dataclass(frozen=True)
class Head:
    """The newest entry of a chain: its seq and its keyed hash."""

    seq: int
    hash: str


class HeadAnchor(Protocol):
    """Where heads are published and read back."""

    def publish(self, chain: str, head: Head) -> None:
        """Record ``head`` as the newest of ``chain`` (never raises: the entry is stored)."""

    def latest(self, chain: str) -> Head | None:
        """The newest head published for ``chain``, or None when none was."""


class KafkaHeadAnchor:
    """Heads on a compacted topic, one key per chain; publishing waits for acks=all."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._producer: KafkaProducer | None = None

    def publish(self, chain: str, head: Head) -> None:
        """Send and wait; a failure is logged (the log line is the anchor of last resort)."""
        log.info("audit head chain=%s seq=%d hash=%s", chain, head.seq, head.hash)
        value = orjson.dumps({"seq": head.seq, "hash": head.hash})
        try:
            if self._producer is None:
                self._producer = KafkaProducer(
                    bootstrap_servers=self.bootstrap, acks="all", request_timeout_ms=_TIMEOUT_MS
                )
            self._producer.send(self.topic, key=chain.encode(), value=value).get(
                timeout=_TIMEOUT_MS / 1000
            )
        except (KafkaError, OSError) as exc:
            reason = type(exc).__name__
            log.warning("audit head not anchored in Kafka (%s); it is in this log", reason)

    def latest(self, chain: str) -> Head | None:
        """Read the topic to its end (it is compacted: one record per chain, give or take)."""
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            consumer_timeout_ms=_TIMEOUT_MS,
        )
        try:
            partitions = consumer.partitions_for_topic(self.topic) or set()
            assigned = [TopicPartition(self.topic, p) for p in partitions]
            if not assigned:
                return None
            consumer.assign(assigned)
            consumer.seek_to_beginning(*assigned)
            ends = consumer.end_offsets(assigned)
            return _newest(consumer, chain.encode(), ends)
        finally:
            consumer.close()

    def close(self) -> None:
        """Flush and close the producer, if one was opened."""
        if self._producer is not None:
            self._producer.close(timeout=_TIMEOUT_MS / 1000)
            self._producer = None


def _newest(consumer: KafkaConsumer, key: bytes, ends: dict[TopicPartition, int]) -> Head | None:
    found: Head | None = None
    remaining = {tp for tp, end in ends.items() if end > 0}
    for record in consumer:
        tp = TopicPartition(record.topic, record.partition)
        if record.key == key and record.value is not None:
            value = orjson.loads(record.value)
            found = Head(int(value["seq"]), str(value["hash"]))
        if record.offset + 1 >= ends[tp]:
            remaining.discard(tp)
        if not remaining:
            break
    return found
