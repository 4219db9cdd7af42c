"""The real stream worker and an erasure on one ClickHouse node vs the 2 x 2 cluster, same run.

For each side, the same pre-loaded raw topic (``bench.processor.run``: requests of 50 events,
a third anonymous, the rest from visitors who granted analytics) is consumed by
``python -m streams`` as deployed, storing through that side's storage URL: the single node at
``CONSENTSTREAM_CLICKHOUSE_URL``, or a 2 shards x 2 replicas cluster started here on free ports
(ZooKeeper and four ClickHouse servers, stopped at the end; ``--keep`` leaves it running). Then
one of those visitors is erased as the privacy job does (``delete_subject``: on the cluster, it
returns once every replica confirmed) and counted back to zero.

Prints the calibration line, events/s and CPU per event of the worker, the erasure time, and the
cluster / single ratios; appends them to ``$BENCH_RESULTS`` as JSON lines (``bench.summary``).
Both sides share this machine's cores with the cluster's five servers, so the cluster's figure
is what the same box does in cluster mode, not what a cluster of machines would do.

    PYTHONPATH=. python -m bench.cluster.worker --events 60000
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.calibration import Calibration, measure, record
from bench.processor.load import encode_batches, preload, raw_batches, settings_for
from bench.processor.run import run_worker
from consentstream.identity import pseudonymize
from consentstream.preparation import prepare_pipeline
from consentstream.storage import open_storage, sql
from consentstream.storage.repository import Repository
from ops.stack import lifecycle
from ops.stack.cluster import cluster_services, cluster_url
from ops.stack.config import StackSettings


@contextmanager
def local_cluster(keep: bool = False) -> Iterator[StackSettings]:
    """ZooKeeper and 2 x 2 ClickHouse servers from a temporary folder, running; then stopped."""
    settings = StackSettings(
        stack_dir=Path(tempfile.mkdtemp(prefix="cs-bench-cluster-")),
        zookeeper_port=int(os.environ.get("BENCH_ZK_PORT", "32181")),
        clickhouse_cluster_port=int(os.environ.get("BENCH_CLUSTER_PORT", "33000")),
    )
    with lifecycle.running(cluster_services(settings), keep=keep):
        yield settings


@dataclass(frozen=True)
class Side:
    """One side's figures."""

    rate: float
    cpu_per_event: float
    erasure: float
    erased_rows: int


def run_side(storage_url: str, events: int, partitions: int) -> Side:
    """Pre-load a topic of its own, run the worker over it into ``storage_url``, erase one."""
    run = secrets.token_hex(3)
    base, env = settings_for(run, partitions)
    database = f"cs_bench_{run}"
    url = storage_url.replace("/DATABASE", f"/{database}")
    env["CONSENTSTREAM_CLICKHOUSE_URL"] = url
    settings = base.model_copy(update={"clickhouse_url": url})
    prepare_pipeline(settings)
    visitors = [f"bench_visitor_{i:04d}" for i in range(500)]
    asyncio.run(preload(settings, encode_batches(raw_batches(events, visitors, 50)), visitors))
    storage = open_storage(url)
    try:
        worker = run_worker(env, storage, events)
        repo = Repository(storage, mutation_timeout=300)
        subject = pseudonymize(visitors[1], settings.pseudonym_key.get_secret_value())
        began = time.perf_counter()
        removed = repo.delete_subject(subject)
        erasure = time.perf_counter() - began
        assert sum(repo.count_subject(subject).values()) == 0
    finally:
        storage.command(sql.statement(sql.DROP_DATABASE, database, cluster=storage.cluster))
        storage.close()
    return Side(worker.rate, worker.cpu_per_event, erasure, removed["usage_events"])


def figures(cal: Calibration, single: Side, cluster: Side) -> list[dict[str, Any]]:
    """The JSON-line figures: each cluster figure with the single node's as its baseline."""
    return [
        {
            "what": "stream worker, one process, 2x2 ClickHouse cluster (baseline: one node)",
            "value": cluster.rate,
            "unit": "events/s",
            "per_unit": cal.per_unit(cluster.rate),
            "baseline": single.rate,
        },
        {
            "what": "stream worker CPU per event, 2x2 cluster (baseline: one node)",
            "value": cluster.cpu_per_event * 1e6,
            "unit": "µs",
            "baseline": single.cpu_per_event * 1e6,
        },
        {
            "what": "erasure of one subject, every replica confirmed, 2x2 (baseline: one node)",
            "value": cluster.erasure,
            "unit": "s",
            "baseline": single.erasure,
            "target": "< 5 s invisible, < 60 s removed",
            "met": cluster.erasure < 5,
        },
    ]


def main() -> None:
    """Both sides, one table, one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    args = parser.parse_args()
    # The readiness probes of the starting servers are refused a few times: not worth a trace.
    logging.getLogger("clickhouse_driver").setLevel(logging.CRITICAL)
    cal = measure()
    print(cal.line(), flush=True)  # noqa: T201
    single_url = os.environ.get("CONSENTSTREAM_CLICKHOUSE_URL", "clickhouse://127.0.0.1:9000/x")
    single_url = single_url.rsplit("/", 1)[0] + "/DATABASE"
    with local_cluster(args.keep) as stack:
        single = run_side(single_url, args.events, args.partitions)
        cluster = run_side(cluster_url(stack, "DATABASE"), args.events, args.partitions)
    print(f"{'':<12} {'worker events/s':>16} {'CPU µs/event':>13} {'erasure s':>10}")  # noqa: T201
    for name, side in (("single node", single), ("2x2 cluster", cluster)):
        print(  # noqa: T201
            f"{name:<12} {side.rate:>16,.0f} {side.cpu_per_event * 1e6:>13.1f}"
            f" {side.erasure:>10.2f}   ({side.erased_rows} rows erased)"
        )
    print(  # noqa: T201
        f"{'ratio c/s':<12} {cluster.rate / single.rate:>16.2f}"
        f" {cluster.cpu_per_event / single.cpu_per_event:>13.2f}"
        f" {cluster.erasure / single.erasure:>10.2f}"
    )
    record("cluster", cal, figures(cal, single, cluster))


if __name__ == "__main__":
    main()
