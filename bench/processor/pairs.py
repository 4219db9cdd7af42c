"""The worker alone, before and after a change, in alternated runs of the same benchmark.

    .venv/bin/python -m bench.processor.pairs --before /tmp/old-base [--events 30000] [--pairs 3]

Each run pre-loads the same kind of topic as ``run.py`` (topics, group and database of its
own) and times ``python -m streams`` of one checkout over it (``timing.run_worker``): CPU per
event from the first take, which the box's load moves far less than the rate. Before and after
take turns, so a swing in the neighbours' load reaches both; the calibration is printed before
each pair. Without the baseline, bare Faust and N-process runs of ``run.py``, a pair costs a
fraction of a full run.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
from pathlib import Path

from bench.calibration import measure
from bench.processor.load import encode_batches, preload, raw_batches, settings_for
from bench.processor.timing import REPO, WorkerRun, run_worker
from consentstream.preparation import prepare_pipeline
from consentstream.storage import open_storage, sql


def one_run(code: Path, events: int, partitions: int) -> WorkerRun:
    """The worker of ``code`` over a fresh pre-loaded topic of ``events`` events."""
    s, env = settings_for(secrets.token_hex(3), partitions)
    prepare_pipeline(s)
    storage = open_storage(s.clickhouse_url)
    visitors = [f"bench_visitor_{i:04d}" for i in range(500)]
    try:
        asyncio.run(preload(s, encode_batches(raw_batches(events, visitors, 50)), visitors))
        return run_worker(env, storage, events, code=code)
    finally:
        storage.command(sql.statement(sql.DROP_DATABASE, storage.database))
        storage.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="checkout of the base")
    parser.add_argument("--after", type=Path, default=REPO, help="default: this checkout")
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()
    for pair in range(1, args.pairs + 1):
        print(f"pair {pair}  {measure().line()}", flush=True)
        order = [("before", args.before), ("after", args.after)]
        for label, code in order if pair % 2 else order[::-1]:
            run = one_run(code.resolve(), args.events, args.partitions)
            print(
                f"pair {pair}  {label:6} {run.cpu_per_event * 1e6:6.1f} µs CPU per event"
                f"  {run.rate:8,.0f} events/s  ({run.stored:,} rows)",
                flush=True,
            )


if __name__ == "__main__":
    main()
