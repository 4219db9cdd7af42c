"""The worker with one process per core, beside the one-process run of the same benchmark.

The same events (the same ``RawBatch`` messages) go to topics, a consumer group and a database
of the N-process run's own, once all its consumers have joined.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from bench.calibration import Calibration
from consentstream.preparation import prepare_pipeline
from consentstream.storage import open_storage, sql
from streams.config import WorkerSettings

with warnings.catch_warnings():
    # kafka-python reads its protocol schemas with importlib.resources' legacy API at import.
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.admin import KafkaAdminClient


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
    fresh: Callable[[], tuple[WorkerSettings, dict[str, str]]],
    fill: Callable[[WorkerSettings], None],
    events: int,
    run_worker: Callable[..., Timed],
    processes: int | None = None,
) -> ManyRun:
    """``run_worker`` with ``WORKER_PROCESSES`` = cores on topics, group and database of its own.

    The topic is filled only once every consumer has joined and the group is stable: otherwise
    the first consumer up takes the whole topic and the group then stops to rebalance, which
    on a short run measures the rebalance more than the processes.
    """
    count = processes or os.cpu_count() or 1
    settings, env = fresh()
    prepare_pipeline(settings)
    env = {**env, "CONSENTSTREAM_WORKER_PROCESSES": str(count)}
    storage = open_storage(settings.clickhouse_url)

    def ready() -> None:
        wait_stable(settings, count)
        # Filled beside the timing loop, which starts the clock at the first take (mid-fill).
        threading.Thread(target=fill, args=(settings,), daemon=True).start()

    try:
        return ManyRun(count, run_worker(env, storage, events, ready))
    finally:
        storage.command(sql.statement(sql.DROP_DATABASE, storage.database))
        storage.close()


def wait_stable(settings: WorkerSettings, members: int, timeout: float = 180) -> None:
    """Until the worker's consumer group is stable with ``members`` members."""
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap.split(","))
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            found = admin.describe_groups([settings.worker_app_id]).get(settings.worker_app_id)
            if found and found["group_state"] == "Stable" and len(found["members"]) == members:
                return
            time.sleep(0.5)
    finally:
        admin.close()
    raise SystemExit(f"the worker group never had {members} stable members")
