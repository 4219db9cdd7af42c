"""Create the pipeline's topics with their partitions, retention and compaction, and keep them so.

Brokers here do not auto-create topics: a topic made implicitly by the first producer would have
the broker's default partition count and retention, which breaks co-partitioning of the consent
table and keeps raw IPs longer than promised. For the same reason a topic that already exists
(an older version made it, or the operator changed ``RAW_RETENTION_HOURS``) is brought to the
planned configuration on every run; partition counts are checked, never changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
from kafka.errors import KafkaError, TopicAlreadyExistsError

from consentstream.topics import Topics

HOUR_MS = 3_600_000


@dataclass(frozen=True)
class TopicPlan:
    """One topic as it must exist."""

    name: str
    partitions: int
    config: dict[str, str]
    replication_factor: int = 1


# With three brokers or more every topic keeps three copies and a write is acknowledged once
# two of them have it (producers use acks=all): one broker may fail without losing an
# acknowledged event or stopping writes. Fewer brokers (development) keep one copy.
REPLICATED_FROM_BROKERS = 3
REPLICATION_FACTOR = 3
MIN_IN_SYNC = 2


def for_brokers(wanted: Sequence[TopicPlan], brokers: int) -> list[TopicPlan]:
    """The plan for a cluster of ``brokers``: replicated, with min.insync.replicas, from three."""
    if brokers < REPLICATED_FROM_BROKERS:
        return list(wanted)
    return [
        replace(
            topic,
            replication_factor=REPLICATION_FACTOR,
            config={**topic.config, "min.insync.replicas": str(MIN_IN_SYNC)},
        )
        for topic in wanted
    ]


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
        # Dead letters carry raw events (raw IPs included): deleted after two weeks, never kept
        # forever by compaction.
        TopicPlan(
            topics.dead_letters,
            1,
            {"retention.ms": str(14 * 24 * HOUR_MS), "cleanup.policy": "delete"},
        ),
        # One record per audit chain survives compaction: the newest head, which is all that
        # verification needs; it holds a seq and a hash, nothing about any visitor.
        TopicPlan(topics.audit_heads, 1, {"cleanup.policy": "compact"}),
    ]


class TopicError(RuntimeError):
    """Topics could not be created or configured, or do not match the plan."""


@dataclass(frozen=True)
class ConfigChange:
    """One topic setting moved to its planned value (``before`` None: it had none)."""

    topic: str
    key: str
    before: str | None
    after: str

    def __str__(self) -> str:
        return f"{self.topic}: {self.key} {self.before or '(unset)'} -> {self.after}"


@dataclass(frozen=True)
class TopicReport:
    """What ``ensure_topics`` did, for ``consentstream migrate`` and the worker log to tell."""

    created: tuple[str, ...] = ()
    changed: tuple[ConfigChange, ...] = ()
    deleted: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """One human line per created topic, changed setting and deleted topic."""
        made = [f"created topic {name}" for name in self.created]
        gone = [f"deleted retired topic {name}" for name in self.deleted]
        return made + [f"changed {change}" for change in self.changed] + gone


class PartitionMismatch(TopicError):
    """Existing topics have another partition count than planned; configs were still aligned."""

    def __init__(self, problem: str, report: TopicReport) -> None:
        super().__init__(problem)
        self.report = report


def _same(current: str | None, wanted: str) -> bool:
    """Kafka may print a number its own way ("0.010" is "0.01"): compare numbers as numbers."""
    if current is None or current == wanted:
        return current == wanted
    try:
        return float(current) == float(wanted)
    except ValueError:
        return False


def config_changes(wanted: TopicPlan, current: Mapping[str, str | None]) -> list[ConfigChange]:
    """The planned settings an existing topic does not have (keys the plan omits are left be)."""
    return [
        ConfigChange(wanted.name, key, current.get(key), value)
        for key, value in wanted.config.items()
        if not _same(current.get(key), value)
    ]


def partition_problem(wanted: list[TopicPlan], counts: Mapping[str, int]) -> str | None:
    """What is wrong with existing topics' partition counts, and what to do; None if nothing.

    Nothing here changes a count. Kafka cannot remove partitions, and adding them sends keys to
    other partitions than their earlier records (a visitor's decisions and events split), which
    breaks the co-partitioning of raw and consent topics (one worker sees a visitor's decisions
    before its later events): that is an
    operator's decision, taken with the pipeline drained, never a side effect of starting up.
    """
    off = [(t, counts[t.name]) for t in wanted if counts.get(t.name, t.partitions) != t.partitions]
    if not off:
        return None
    found = ", ".join(f"{t.name} has {have} (planned {t.partitions})" for t, have in off)
    if any(have < t.partitions for t, have in off):
        fix = "adding partitions re-keys data, so it is not done automatically"
    else:
        fix = "Kafka cannot remove partitions"
    return (
        f"topic partition counts differ from the plan: {found}. Co-partitioned topics need "
        f"equal counts and {fix}: set CONSENTSTREAM_TOPIC_PARTITIONS to the existing count, "
        "or drain the pipeline and recreate the topics"
    )


def ensure_topics(
    bootstrap: str, wanted: list[TopicPlan], retired: Sequence[str] = ()
) -> TopicReport:
    """Create missing topics, align existing ones' settings, refuse other partition counts.

    Settings are aligned before partition counts are checked, so a raw topic never keeps data
    longer than promised even when :class:`PartitionMismatch` (carrying the report) is raised.
    Settings the plan does not name are left as the operator set them. ``retired`` topics (ones
    an earlier version used and nothing reads any more) are deleted when present: an erasure no
    longer reaches them, so they must not keep what they hold.
    """
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","), client_id="cs-admin")
    except KafkaError as exc:
        raise TopicError(f"Kafka at {bootstrap} is not reachable: {exc}") from exc
    try:
        wanted = for_brokers(wanted, len(admin.describe_cluster().get("brokers") or []))
        existing = set(admin.list_topics())
        created = _create_missing(admin, wanted, existing)
        present = [t for t in wanted if t.name not in created]
        deleted = _delete_retired(admin, retired, existing)
        report = TopicReport(tuple(created), tuple(_align_configs(admin, present)), deleted)
        problem = partition_problem(present, _partition_counts(admin, present))
    except KafkaError as exc:
        raise TopicError(f"Kafka at {bootstrap} refused the topic setup: {exc}") from exc
    finally:
        admin.close()
    if problem:
        raise PartitionMismatch(problem, report)
    return report


def _delete_retired(
    admin: KafkaAdminClient, retired: Sequence[str], existing: set[str]
) -> tuple[str, ...]:
    """Delete the retired topics that exist; their names."""
    present = tuple(name for name in retired if name in existing)
    if present:
        admin.delete_topics(list(present))
    return present


def _create_missing(
    admin: KafkaAdminClient, wanted: list[TopicPlan], existing: set[str]
) -> list[str]:
    """Create the topics not there yet; one made meanwhile by another process counts as present."""
    created = []
    for topic in (t for t in wanted if t.name not in existing):
        spec = {"num_partitions": topic.partitions, "replication_factor": topic.replication_factor}
        try:
            admin.create_topics({topic.name: {**spec, "configs": topic.config}})
        except TopicAlreadyExistsError:
            continue
        created.append(topic.name)
    return created


def _align_configs(admin: KafkaAdminClient, present: list[TopicPlan]) -> list[ConfigChange]:
    """Set every planned setting an existing topic lacks; only the differing keys are sent."""
    configured = [t for t in present if t.config]
    if not configured:
        return []
    lookups = [ConfigResource(ConfigResourceType.TOPIC, t.name, list(t.config)) for t in configured]
    described = admin.describe_configs(lookups, config_filter="all").get("topic", {})
    changes = [
        change
        for t in configured
        for change in config_changes(
            t, {k: v.get("value") for k, v in described.get(t.name, {}).items()}
        )
    ]
    if changes:
        _alter(admin, changes)
    return changes


def _alter(admin: KafkaAdminClient, changes: list[ConfigChange]) -> None:
    """Apply the changes (incrementally where the broker can); the admin reports, not raises."""
    by_topic: dict[str, dict[str, str]] = {}
    for change in changes:
        by_topic.setdefault(change.topic, {})[change.key] = change.after
    resources = [ConfigResource(ConfigResourceType.TOPIC, n, c) for n, c in by_topic.items()]
    results = admin.alter_configs(resources).get("topic", {})
    failed = [f"{n}: {results.get(n, 'no answer')}" for n in by_topic if results.get(n) != "OK"]
    if failed:
        raise TopicError("could not change topic settings: " + "; ".join(failed))


def _partition_counts(admin: KafkaAdminClient, present: list[TopicPlan]) -> dict[str, int]:
    if not present:
        return {}
    described = admin.describe_topics([t.name for t in present])
    return {d.get("name", d.get("topic")): len(d["partitions"]) for d in described}


def retired_topics(worker_app_id: str) -> list[str]:
    """Topics an earlier version used and nothing reads any more, to be deleted."""
    # The Faust table of consent histories (now in Redis, see streams/consent_history.py) had
    # this changelog: pseudonymous consent data that erasures no longer tombstone.
    return [f"{worker_app_id}-consent-history-changelog"]


def prepare_topics(
    bootstrap: str, topics: Topics, partitions: int, raw_retention_hours: int, worker_app_id: str
) -> TopicReport:
    """Bring the pipeline's topics to the plan and delete retired ones (idempotent)."""
    wanted = plan(topics, partitions, raw_retention_hours)
    return ensure_topics(bootstrap, wanted, retired_topics(worker_app_id))
