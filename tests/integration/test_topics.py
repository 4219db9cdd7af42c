"""Topics are made deliberately, with the settings privacy depends on (real Kafka)."""

from __future__ import annotations

import secrets
import warnings
from collections.abc import Iterator

import pytest

from consentstream.kafka_topics import TopicError, ensure_topics, plan
from consentstream.settings import CommonSettings
from consentstream.topics import Topics

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

pytestmark = pytest.mark.integration


@pytest.fixture
def topics(stack: CommonSettings) -> Iterator[Topics]:
    made = Topics(f"topictest{secrets.token_hex(4)}.")
    yield made
    admin = KafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap.split(","))
    try:
        present = set(admin.list_topics())
        names = [made.raw_events, made.consent, made.privacy_jobs, made.dead_letters]
        admin.delete_topics([n for n in names if n in present])
    finally:
        admin.close()


def config_of(bootstrap: str, topic: str) -> dict[str, str]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    try:
        answer = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        admin.close()
    described = answer["topic"][topic] if isinstance(answer, dict) else answer
    return {k: v["value"] for k, v in described.items()}


def test_raw_topic_is_short_lived_and_consent_is_compacted(
    stack: CommonSettings, topics: Topics
) -> None:
    created = ensure_topics(stack.kafka_bootstrap, plan(topics, 3, 24))
    assert topics.raw_events in created and topics.consent in created
    raw = config_of(stack.kafka_bootstrap, topics.raw_events)
    assert raw["retention.ms"] == str(24 * 3_600_000)
    consent = config_of(stack.kafka_bootstrap, topics.consent)
    assert consent["cleanup.policy"] == "compact"
    assert int(consent["max.compaction.lag.ms"]) <= 3_600_000
    assert ensure_topics(stack.kafka_bootstrap, plan(topics, 3, 24)) == []


def test_a_topic_with_other_partitions_is_refused(stack: CommonSettings, topics: Topics) -> None:
    ensure_topics(stack.kafka_bootstrap, plan(topics, 2, 24))
    with pytest.raises(TopicError, match="partitions"):
        ensure_topics(stack.kafka_bootstrap, plan(topics, 4, 24))
