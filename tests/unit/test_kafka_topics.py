"""What the topic plan promises, and how an existing topic's difference from it is judged."""

from __future__ import annotations

import pytest

from consentstream.kafka_topics import (
    HOUR_MS,
    ConfigChange,
    TopicPlan,
    TopicReport,
    config_changes,
    for_brokers,
    partition_problem,
    plan,
)
from consentstream.topics import Topics

TOPICS = Topics("unit.")


def planned(partitions: int = 4, raw_hours: int = 24) -> dict[str, TopicPlan]:
    return {t.name: t for t in plan(TOPICS, partitions, raw_hours)}


def test_raw_events_are_deleted_after_the_configured_hours() -> None:
    raw = planned(raw_hours=6)[TOPICS.raw_events]
    assert raw.config == {"retention.ms": str(6 * HOUR_MS), "cleanup.policy": "delete"}


def test_consent_is_compacted_within_the_hour_and_dead_letters_are_never_compacted() -> None:
    topics = planned()
    consent = topics[TOPICS.consent].config
    assert consent["cleanup.policy"] == "compact"
    assert int(consent["max.compaction.lag.ms"]) <= HOUR_MS
    assert topics[TOPICS.dead_letters].config["cleanup.policy"] == "delete"


def test_co_partitioned_topics_share_the_count_and_the_others_have_one() -> None:
    counts = {name: t.partitions for name, t in planned(partitions=3).items()}
    assert counts == {
        TOPICS.raw_events: 3,
        TOPICS.consent: 3,
        TOPICS.privacy_jobs: 3,
        TOPICS.dead_letters: 1,
        TOPICS.audit_heads: 1,
    }


def test_audit_heads_keep_the_newest_head_of_each_chain() -> None:
    assert planned()[TOPICS.audit_heads].config["cleanup.policy"] == "compact"


def test_a_longer_retention_than_planned_is_a_change_to_make() -> None:
    raw = planned(raw_hours=24)[TOPICS.raw_events]
    week = str(7 * 24 * HOUR_MS)
    changes = config_changes(raw, {"retention.ms": week, "cleanup.policy": "delete"})
    assert changes == [ConfigChange(TOPICS.raw_events, "retention.ms", week, str(24 * HOUR_MS))]


def test_a_topic_already_as_planned_needs_nothing() -> None:
    consent = planned()[TOPICS.consent]
    assert config_changes(consent, dict(consent.config)) == []


def test_numbers_written_another_way_are_the_same_setting() -> None:
    consent = planned()[TOPICS.consent]
    current: dict[str, str | None] = {**consent.config, "min.cleanable.dirty.ratio": "0.010"}
    assert config_changes(consent, current) == []


def test_a_setting_the_topic_lacks_is_set_and_unplanned_ones_are_left_alone() -> None:
    raw = planned()[TOPICS.raw_events]
    changes = config_changes(raw, {"retention.ms": str(24 * HOUR_MS), "segment.bytes": "1024"})
    assert changes == [ConfigChange(TOPICS.raw_events, "cleanup.policy", None, "delete")]
    assert str(changes[0]) == f"{TOPICS.raw_events}: cleanup.policy (unset) -> delete"


def test_the_report_has_a_line_per_topic_created_and_setting_changed() -> None:
    change = ConfigChange(TOPICS.raw_events, "retention.ms", "604800000", "86400000")
    report = TopicReport(created=(TOPICS.consent,), changed=(change,))
    assert report.lines() == [
        f"created topic {TOPICS.consent}",
        f"changed {TOPICS.raw_events}: retention.ms 604800000 -> 86400000",
    ]
    assert TopicReport().lines() == []


def test_equal_partition_counts_and_new_topics_are_no_problem() -> None:
    wanted = plan(TOPICS, 4, 24)
    counts = {t.name: t.partitions for t in wanted[:2]}  # the others do not exist yet
    assert partition_problem(wanted, counts) is None


def test_fewer_partitions_than_planned_are_refused_not_increased() -> None:
    wanted = plan(TOPICS, 4, 24)
    problem = partition_problem(wanted, {TOPICS.raw_events: 2, TOPICS.consent: 4})
    assert problem is not None
    assert f"{TOPICS.raw_events} has 2 (planned 4)" in problem
    assert TOPICS.consent not in problem
    assert "co-partitioned" in problem.lower()
    assert "not done automatically" in problem


@pytest.mark.parametrize("have", [5, 8])
def test_more_partitions_than_planned_cannot_be_undone(have: int) -> None:
    problem = partition_problem(plan(TOPICS, 4, 24), {TOPICS.consent: have})
    assert problem is not None and "cannot remove partitions" in problem


def test_three_brokers_keep_three_copies_and_need_two_in_sync() -> None:
    """From three brokers on, every topic survives one broker's loss without losing an
    acknowledged write; one broker (development) keeps one copy and asks nothing more."""
    single = plan(Topics("t."), 4, 24)
    assert for_brokers(single, 1) == single
    for topic in for_brokers(single, 3):
        assert topic.replication_factor == 3
        assert topic.config["min.insync.replicas"] == "2"
    assert [t.config.get("retention.ms") for t in for_brokers(single, 5)] == [
        t.config.get("retention.ms") for t in single
    ]
