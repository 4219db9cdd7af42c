"""``python -m streams``: prepare tables and topics, then run the Faust worker until signalled."""

from __future__ import annotations

import gc
import logging
from pathlib import Path

from faust import Worker as FaustWorker
from prometheus_client import CollectorRegistry

from consentstream import processes
from consentstream.preparation import prepare_pipeline

from .config import WorkerSettings
from .metrics import serve_registry
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


def _prepare(settings: WorkerSettings) -> None:
    report = prepare_pipeline(settings)
    for name in report.created:
        log.info("created topic %s", name)
    for change in report.changed:
        log.warning("topic setting corrected: %s", change)
    for name in report.deleted:
        log.warning("deleted retired topic %s", name)


def _child_env(settings: WorkerSettings) -> processes.ChildEnv:
    """Each consumer alone, in a data directory of its own, counting into the shared metrics."""

    def env(number: int) -> dict[str, str]:
        data_dir = Path(settings.worker_data_dir) / str(number)
        data_dir.mkdir(parents=True, exist_ok=True)  # Faust makes only the last level
        return {
            "CONSENTSTREAM_WORKER_PROCESSES": "1",
            "CONSENTSTREAM_WORKER_DATA_DIR": str(data_dir),
            "CONSENTSTREAM_WORKER_METRICS_PORT": "0",
        }

    return env


def supervise(settings: WorkerSettings, count: int) -> None:
    """Several consumers of the group, one /metrics here summing theirs."""
    _prepare(settings)  # once, before the consumers start, instead of racing each other
    supervisor = processes.Supervisor("streams", count, _child_env(settings))
    summed = processes.registry_for(CollectorRegistry())
    serve_registry(summed, settings.worker_metrics_port, settings.worker_metrics_host)
    raise SystemExit(supervisor.run())


def main() -> None:
    """Run the stream worker: one consumer, or a supervisor of ``worker_processes`` of them."""
    settings = WorkerSettings()
    logging.basicConfig(level=settings.log_level)
    count = processes.count(settings.worker_processes)
    if count > 1 and processes.index() is None:
        supervise(settings, count)
    if processes.index() is None:
        _prepare(settings)
    else:
        processes.follow_parent()
    worker = Worker(settings)
    worker.metrics.serve(settings.worker_metrics_port, settings.worker_metrics_host)
    tune_gc()
    FaustWorker(worker.app, loglevel=settings.log_level.lower()).execute_from_commandline()


if __name__ == "__main__":
    main()
