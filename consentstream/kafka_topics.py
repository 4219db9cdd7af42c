"""Create the pipeline's topics with their partitions, retention and compaction, up front.

Brokers here do not auto-create topics: a topic made implicitly by the first producer would have
the broker's default partition count and retention, which breaks co-partitioning of the consent
table and keeps raw IPs longer than promised.
"""

from __future__ import annotations

from dataclasses import dataclass

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from consentstream.topics import Topics

HOUR_MS = 3_600_000


@dataclass(frozen=True)
class TopicPlan:
    """One topic as it must exist."""

    name: str
    partitions: int
    config: dict[str, str]


def plan(topics: Topics, partitions: int, raw_retention_hours: int) -> list[TopicPlan]:
    """Every topic of the pipeline with its settings."""
    return [
        TopicPlan(
            topics.raw_events,
            partitions,
            {"retention.ms": str(raw_retention_hours * HOUR_MS), "cleanup.policy": "delete"},
        ),
        # Compacted, and compacted soon: an erasure writes a tombstone under the subject's key,
        # which only removes the raw visitor ids of earlier decisions once the log is cleaned.
        TopicPlan(
            topics.consent,
            partitions,
            {
                "cleanup.policy": "compact",
                "segment.ms": str(HOUR_MS),
                "max.compaction.lag.ms": str(HOUR_MS),
                "min.cleanable.dirty.ratio": "0.01",
                "delete.retention.ms": str(24 * HOUR_MS),
            },
        ),
        TopicPlan(topics.privacy_jobs, partitions, {}),
        TopicPlan(topics.dead_letters, 1, {"retention.ms": str(14 * 24 * HOUR_MS)}),
    ]


class TopicError(RuntimeError):
    """Topics could not be created or do not match the plan."""


def ensure_topics(bootstrap: str, wanted: list[TopicPlan]) -> list[str]:
    """Create missing topics; refuse existing ones with another partition count.

    Returns the names created.
    """
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","), client_id="cs-admin")
    except KafkaError as exc:
        raise TopicError(f"Kafka at {bootstrap} is not reachable: {exc}") from exc
    try:
        existing = set(admin.list_topics())
        missing = [t for t in wanted if t.name not in existing]
        for topic in missing:
            try:
                admin.create_topics(
                    [NewTopic(topic.name, topic.partitions, 1, topic_configs=topic.config)]
                )
            except TopicAlreadyExistsError:
                continue
        _check_partitions(admin, [t for t in wanted if t.name in existing])
        return [t.name for t in missing]
    finally:
        admin.close()


def _check_partitions(admin: KafkaAdminClient, present: list[TopicPlan]) -> None:
    if not present:
        return
    names = [t.name for t in present]
    described = {
        d.get("name", d.get("topic")): len(d["partitions"]) for d in admin.describe_topics(names)
    }
    wrong = [
        f"{t.name} has {described.get(t.name)} partitions, expected {t.partitions}"
        for t in present
        if described.get(t.name) != t.partitions
    ]
    if wrong:
        raise TopicError("; ".join(wrong) + " (delete the topic or change TOPIC_PARTITIONS)")
