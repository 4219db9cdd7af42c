"""``python -m streams``: migrate storage, then run the Faust worker until signalled."""

from __future__ import annotations

import gc
import logging

from faust import Worker as FaustWorker

from consentstream.kafka_topics import TopicReport, ensure_topics, plan
from consentstream.storage import open_storage, sql
from consentstream.storage.repository import Repository
from consentstream.topics import Topics

from .config import WorkerSettings
from .worker import Worker

log = logging.getLogger(__name__)


def prepare(settings: WorkerSettings) -> TopicReport:
    """Create the ClickHouse tables and the Kafka topics (idempotent) before consuming.

    Existing topics are brought to the planned settings; the report says what was created or
    changed, and :class:`~consentstream.kafka_topics.PartitionMismatch` stops a worker whose
    topics have another partition count.
    """
    storage = open_storage(settings.clickhouse_url)
    try:
        storage.migrate()
        Repository(storage).add_missing_columns(sql.USAGE_EVENTS)
    finally:
        storage.close()
    wanted = plan(
        Topics(settings.topic_prefix), settings.topic_partitions, settings.raw_retention_hours
    )
    # The Faust table of consent histories (now in Redis, see consent_history.py) had this
    # changelog: pseudonymous consent data that erasures no longer tombstone.
    retired = [f"{settings.worker_app_id}-consent-history-changelog"]
    return ensure_topics(settings.kafka_bootstrap, wanted, retired)


# Allocations between young collections, then young (middle) collections between older ones.
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Collect garbage far less often than CPython's default (every 700 allocations).

    A take's events (up to ``sink_batch_size`` messages of up to a request's events each) stay
    alive until inserted, and under the default thresholds the collector traversed them over
    and over: half the worker's CPU (bench/processor/README.md). The pipeline makes no reference
    cycles, so collecting less often costs little memory; the objects of start-up (modules,
    the app, the catalogue) are frozen out of collections altogether.
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def main() -> None:
    """Run one stream worker; several share the partitions of one consumer group."""
    settings = WorkerSettings()
    logging.basicConfig(level=settings.log_level)
    report = prepare(settings)
    for name in report.created:
        log.info("created topic %s", name)
    for change in report.changed:
        log.warning("topic setting corrected: %s", change)
    for name in report.deleted:
        log.warning("deleted retired topic %s", name)
    worker = Worker(settings)
    worker.metrics.serve(settings.worker_metrics_port, settings.worker_metrics_host)
    tune_gc()
    FaustWorker(worker.app, loglevel=settings.log_level.lower()).execute_from_commandline()


if __name__ == "__main__":
    main()
