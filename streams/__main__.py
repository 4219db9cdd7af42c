"""``python -m streams``: migrate storage, then run the Faust worker until signalled."""

from __future__ import annotations

import gc
import logging

from faust import Worker as FaustWorker

from consentstream.kafka_topics import ensure_topics, plan
from consentstream.storage import open_storage, sql
from consentstream.storage.repository import Repository
from consentstream.topics import Topics

from .app import Worker
from .config import WorkerSettings


def prepare(settings: WorkerSettings) -> None:
    """Create the ClickHouse tables and the Kafka topics (idempotent) before consuming."""
    storage = open_storage(settings.clickhouse_url)
    try:
        storage.migrate()
        Repository(storage).add_missing_columns(sql.USAGE_EVENTS)
    finally:
        storage.close()
    wanted = plan(
        Topics(settings.topic_prefix), settings.topic_partitions, settings.raw_retention_hours
    )
    ensure_topics(settings.kafka_bootstrap, wanted)


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
    prepare(settings)
    worker = Worker(settings)
    worker.metrics.serve(settings.worker_metrics_port)
    tune_gc()
    FaustWorker(worker.app, loglevel=settings.log_level.lower()).execute_from_commandline()


if __name__ == "__main__":
    main()
