"""Make the tables and topics the pipeline needs before any process uses them (idempotent).

The worker runs this when it starts and ``consentstream migrate`` runs it on demand, so both
leave ClickHouse and Kafka in the same shape.
"""

from __future__ import annotations

from typing import Protocol

from consentstream.kafka_topics import TopicReport, prepare_topics
from consentstream.storage import open_storage, sql
from consentstream.storage.repository import Repository
from consentstream.topics import Topics


class PipelineLayout(Protocol):
    """The settings that say where the tables and topics live and how topics are made."""

    @property
    def clickhouse_url(self) -> str: ...

    @property
    def kafka_bootstrap(self) -> str: ...

    @property
    def topic_prefix(self) -> str: ...

    @property
    def topic_partitions(self) -> int: ...

    @property
    def raw_retention_hours(self) -> int: ...

    @property
    def worker_app_id(self) -> str: ...


def prepare_storage(url: str) -> None:
    """Create the ClickHouse tables and add columns an older version's tables lack."""
    with open_storage(url) as storage:
        storage.migrate()
        Repository(storage).add_missing_columns(sql.USAGE_EVENTS)


def prepare_pipeline(settings: PipelineLayout) -> TopicReport:
    """Create the tables, then bring the Kafka topics to the plan (idempotent).

    The report says which topics were created or changed;
    :class:`~consentstream.kafka_topics.PartitionMismatch` stops a worker whose topics have
    another partition count.
    """
    prepare_storage(settings.clickhouse_url)
    topics = Topics(settings.topic_prefix)
    return prepare_topics(
        settings.kafka_bootstrap,
        topics,
        settings.topic_partitions,
        settings.raw_retention_hours,
        settings.worker_app_id,
    )
