"""Every benchmark at a scale that finishes within 10 minutes on two cores: make bench.

    .venv/bin/python -m bench.all [--results FILE]

Runs the collector, stream processor, aggregates, erasure, dashboard and cluster (the worker
and an erasure on one node vs a 2 x 2 ClickHouse cluster it starts) benchmarks one after
another against the running local stack (``make up``), each printing its own output and
calibration,
then prints one summary table (``bench.summary``). The scales are smaller than each benchmark's
default (the worker on 30k events, the aggregates on 1M instead of 10M, the dashboard on 200k):
7 min 54 s on a quiet 2-core box; run a benchmark alone for the full size (the dashboard on 10M:
``make bench-dashboard``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import summary

REPO = Path(__file__).resolve().parents[1]

RUNS: list[tuple[str, list[str]]] = [
    ("collector", ["bench/collector/run.py", "--scale", "0.3"]),
    ("processor", ["bench/processor/run.py", "--events", "30000", "--latency-seconds", "10"]),
    ("decode", ["-m", "bench.processor.decode", "--messages", "400"]),
    ("aggregates", ["-m", "bench.api.aggregates", "--events", "1000000"]),
    ("erasure", ["-m", "bench.api.deletion", "--events", "1000000"]),
    ("shredding", ["-m", "bench.shredding"]),
    ("cluster", ["-m", "bench.cluster.worker", "--events", "20000"]),
    ("dashboard", ["-m", "bench.api.dashboard", "--events", "200000", "--runs", "3"]),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", help="JSON lines file to append to (default: a temp file)")
    parser.add_argument("--only", nargs="*", help="run only these benchmarks")
    args = parser.parse_args()
    results = Path(args.results or tempfile.mkstemp(prefix="cs-bench-", suffix=".jsonl")[1])
    env = {**os.environ, "BENCH_RESULTS": str(results), "PYTHONPATH": str(REPO)}
    failed = []
    for name, command in RUNS:
        if args.only and name not in args.only:
            continue
        print(f"\n=== {name} ===", flush=True)
        began = time.monotonic()
        done = subprocess.run([sys.executable, *command], cwd=REPO, env=env, check=False)
        print(f"=== {name}: {time.monotonic() - began:.0f} s", flush=True)
        if done.returncode:
            failed.append(name)
    lines = [line for line in results.read_text().splitlines() if line.strip()]
    print("\n=== summary ===")
    print(summary.render([json.loads(line) for line in lines]))
    print(f"\n(results: {results})")
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
