"""Storage on one node vs the 2 shards x 2 replicas cluster, same run, same rows.

Inserts worker-sized blocks of usage events (what the worker's sink does per take) and times
an erasure (delete_subject with its wait: every replica confirmed in cluster mode). Starts its
own cluster on free ports from a temporary folder (``--keep`` leaves it running) and uses the
single node at ``CONSENTSTREAM_CLICKHOUSE_URL``; each side gets a database of its own, dropped
at the end. Prints rows/s, CPU-free wall figures, and the cluster / single ratios.

    PYTHONPATH=. python -m bench.cluster.storage --rows 200000
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
import uuid
from pathlib import Path

from consentstream.storage import Storage, open_storage, sql
from consentstream.storage.repository import Repository
from ops.stack import lifecycle
from ops.stack.cluster import cluster_services, cluster_url
from ops.stack.config import StackSettings
from tests.integration.storage_fixtures import new_key, usage_event


def measure(store: Storage, rows: int, block: int) -> tuple[float, float]:
    """(rows/s inserted in blocks, seconds for one erasure of a subject with 50 rows)."""
    repo = Repository(store, mutation_timeout=300)
    visitors = [new_key() for _ in range(max(rows // 20, 1))]
    subject = visitors[0]
    batch = [usage_event(random.choice(visitors)) for _ in range(block)]
    repo.insert_usage_events([usage_event(subject) for _ in range(50)])
    began = time.perf_counter()
    for _ in range(rows // block):
        repo.insert_usage_events(
            [row.model_copy(update={"event_id": uuid.uuid4()}) for row in batch]
        )
    insert_rate = (rows // block) * block / (time.perf_counter() - began)
    began = time.perf_counter()
    repo.delete_subject(subject)
    erasure = time.perf_counter() - began
    assert repo.count_subject(subject)["usage_events"] == 0
    return insert_rate, erasure


def main() -> None:
    """Run both sides and print one table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--block", type=int, default=2_000)
    args = parser.parse_args()
    single_url = os.environ.get("CONSENTSTREAM_CLICKHOUSE_URL", "clickhouse://127.0.0.1:9000/x")
    settings = StackSettings(
        stack_dir=Path(tempfile.mkdtemp(prefix="cs-bench-cluster-")),
        zookeeper_port=int(os.environ.get("BENCH_ZK_PORT", "32181")),
        clickhouse_cluster_port=int(os.environ.get("BENCH_CLUSTER_PORT", "33000")),
    )
    services = cluster_services(settings)
    database = f"cs_bench_{uuid.uuid4().hex[:8]}"
    try:
        for service in services:
            lifecycle.start(service, lambda _text: None)
        results = {}
        for name, url in (
            ("single node", single_url.rsplit("/", 1)[0] + f"/{database}"),
            ("2x2 cluster", cluster_url(settings, database)),
        ):
            store = open_storage(url)
            try:
                store.migrate()
                results[name] = measure(store, args.rows, args.block)
            finally:
                store.command(sql.statement(sql.DROP_DATABASE, database, cluster=store.cluster))
                store.close()
    finally:
        for service in reversed(services):
            lifecycle.stop(service)
    print(f"{'':<12} {'insert rows/s':>14} {'erasure s':>10}")  # noqa: T201
    for name, (rate, erasure) in results.items():
        print(f"{name:<12} {rate:>14,.0f} {erasure:>10.2f}")  # noqa: T201
    (s_rate, s_erase), (c_rate, c_erase) = results.values()
    print(f"{'ratio c/s':<12} {c_rate / s_rate:>14.2f} {c_erase / s_erase:>10.2f}")  # noqa: T201


if __name__ == "__main__":
    main()
