"""The worker with one process per core over the same pre-loaded topic, beside one process.

A consumer group of its own reads the topic from the start into a database of its own, so the
N-process run sees exactly what the one-process run saw, in the same benchmark run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from bench.calibration import Calibration
from consentstream.storage import open_storage, sql
from consentstream.storage.base import Storage
from streams.config import WorkerSettings


class Timed(Protocol):
    """What ``run.py``'s ``run_worker`` reports of one run."""

    @property
    def rate(self) -> float: ...

    @property
    def cpu_per_event(self) -> float: ...


@dataclass(frozen=True)
class ManyRun:
    """The N-process run and its summary rows."""

    processes: int
    run: Timed

    def figures(self, baseline: float, cal: Calibration) -> list[dict[str, Any]]:
        """Throughput against raw consume + insert of this run, and CPU per event."""
        rate = self.run.rate
        return [
            {
                "what": f"stream worker, {self.processes} processes (as deployed)",
                "value": rate,
                "unit": "events/s",
                "per_unit": cal.per_unit(rate),
                "baseline": baseline,
                "target": ">= 60% of raw consume + insert",
                "met": rate >= 0.6 * baseline,
            },
            {
                "what": f"stream worker, CPU per event, {self.processes} processes",
                "value": self.run.cpu_per_event * 1e6,
                "unit": "µs",
                "per_unit": self.run.cpu_per_event / cal.loop_s * 1e6,
            },
        ]


def n_process_run(
    env: dict[str, str],
    settings: WorkerSettings,
    events: int,
    run_worker: Callable[[dict[str, str], Storage, int], Timed],
    processes: int | None = None,
) -> ManyRun:
    """``run_worker`` again with ``WORKER_PROCESSES`` = cores, its own group and database."""
    count = processes or os.cpu_count() or 1
    url = settings.clickhouse_url + "_n"
    env = {
        **env,
        "CONSENTSTREAM_WORKER_PROCESSES": str(count),
        "CONSENTSTREAM_WORKER_APP_ID": settings.worker_app_id + "-n",
        "CONSENTSTREAM_WORKER_DATA_DIR": settings.worker_data_dir + "-n",
        "CONSENTSTREAM_CLICKHOUSE_URL": url,
    }
    storage = open_storage(url)
    try:
        storage.migrate()
        return ManyRun(count, run_worker(env, storage, events))
    finally:
        storage.command(sql.statement(sql.DROP_DATABASE, storage.database))
        storage.close()
