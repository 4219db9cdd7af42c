"""``python -m streams``: prepare tables and topics, then run the Faust worker until signalled."""

from __future__ import annotations

import gc
import logging

from faust import Worker as FaustWorker

from consentstream.preparation import prepare_pipeline

from .config import WorkerSettings
from .worker import Worker

log = logging.getLogger(__name__)


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
    report = prepare_pipeline(settings)
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
