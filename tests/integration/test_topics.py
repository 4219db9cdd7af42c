"""Topics are made deliberately, with the settings privacy depends on (real Kafka)."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from consentstream.kafka_topics import (
    ConfigChange,
    PartitionMismatch,
    TopicReport,
    ensure_topics,
    plan,
)
from consentstream.settings import CommonSettings
from consentstream.topics import Topics
from tests.isolation import isolated_env

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
    report = ensure_topics(stack.kafka_bootstrap, plan(topics, 3, 24))
    assert topics.raw_events in report.created and topics.consent in report.created
    raw = config_of(stack.kafka_bootstrap, topics.raw_events)
    assert raw["retention.ms"] == str(24 * 3_600_000)
    consent = config_of(stack.kafka_bootstrap, topics.consent)
    assert consent["cleanup.policy"] == "compact"
    assert int(consent["max.compaction.lag.ms"]) <= 3_600_000
    assert ensure_topics(stack.kafka_bootstrap, plan(topics, 3, 24)) == TopicReport()


def create_raw_topic(bootstrap: str, name: str, partitions: int, config: dict[str, str]) -> None:
    """A raw topic as an older version (or a careless operator) made it."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    try:
        spec = {"num_partitions": partitions, "replication_factor": 1, "configs": config}
        admin.create_topics({name: spec})
    finally:
        admin.close()


def test_an_existing_raw_topic_kept_for_a_week_is_brought_back_to_a_day(
    stack: CommonSettings, topics: Topics
) -> None:
    week = str(7 * 24 * 3_600_000)
    create_raw_topic(stack.kafka_bootstrap, topics.raw_events, 3, {"retention.ms": week})
    report = ensure_topics(stack.kafka_bootstrap, plan(topics, 3, 24))
    assert topics.raw_events not in report.created
    day = str(24 * 3_600_000)
    assert ConfigChange(topics.raw_events, "retention.ms", week, day) in report.changed
    assert config_of(stack.kafka_bootstrap, topics.raw_events)["retention.ms"] == day
    # The operator shortens retention later: the next run applies it, and says so.
    report = ensure_topics(stack.kafka_bootstrap, plan(topics, 3, 6))
    assert report.changed == (
        ConfigChange(topics.raw_events, "retention.ms", day, str(6 * 3_600_000)),
    )
    assert config_of(stack.kafka_bootstrap, topics.raw_events)["retention.ms"] == str(6 * 3_600_000)


def test_a_topic_with_other_partitions_is_refused_but_still_gets_its_retention(
    stack: CommonSettings, topics: Topics
) -> None:
    ensure_topics(stack.kafka_bootstrap, plan(topics, 2, 24))
    with pytest.raises(PartitionMismatch, match="partitions") as refused:
        ensure_topics(stack.kafka_bootstrap, plan(topics, 4, 12))
    assert "not done automatically" in str(refused.value)
    hours_12 = str(12 * 3_600_000)
    assert [c.after for c in refused.value.report.changed] == [hours_12]
    assert config_of(stack.kafka_bootstrap, topics.raw_events)["retention.ms"] == hours_12
    counts = KafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap.split(","))
    try:
        described = counts.describe_topics([topics.raw_events])
    finally:
        counts.close()
    assert len(described[0]["partitions"]) == 2  # never changed behind the operator's back


def test_a_retired_topic_is_deleted_and_reported(stack: CommonSettings, topics: Topics) -> None:
    """An earlier worker's consent-history changelog must not outlive the erasures it misses."""
    retired = f"{topics.prefix}old-worker-consent-history-changelog"
    create_raw_topic(stack.kafka_bootstrap, retired, 1, {"cleanup.policy": "compact"})
    admin = KafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap.split(","))
    try:
        # A broker holding thousands of topics can list a new one a moment after creating it;
        # the retirement below can only act on a topic the listing shows.
        deadline = time.monotonic() + 15
        while retired not in admin.list_topics() and time.monotonic() < deadline:
            time.sleep(0.2)
        report = ensure_topics(stack.kafka_bootstrap, plan(topics, 1, 24), [retired])
        assert report.deleted == (retired,)
        assert f"deleted retired topic {retired}" in report.lines()
        deadline = time.monotonic() + 15  # deletion completes asynchronously on the broker
        while retired in admin.list_topics() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert retired not in admin.list_topics()
    finally:
        admin.close()
    assert ensure_topics(stack.kafka_bootstrap, plan(topics, 1, 24), [retired]).deleted == ()


def test_migrate_prints_the_settings_it_corrected(stack: CommonSettings, topics: Topics) -> None:
    week = str(7 * 24 * 3_600_000)
    create_raw_topic(stack.kafka_bootstrap, topics.raw_events, 2, {"retention.ms": week})
    run = isolated_env(
        "topics", stack.clickhouse_url, topic_prefix=topics.prefix, topic_partitions=2
    )
    cli = [str(Path(sys.executable).parent / "consentstream"), "migrate"]
    try:
        out = subprocess.run(
            cli, env=run.env, capture_output=True, text=True, timeout=90, check=True
        )
    finally:
        run.drop_database()
    assert f"changed {topics.raw_events}: retention.ms {week} -> 86400000" in out.stdout
    assert f"created topic {topics.consent}" in out.stdout
