"""The collector as deployed (``python -m services.collector``) with 1 and N processes.

``run.py`` measures it beside the bare endpoint; this module starts it with
``COLLECTOR_PROCESSES`` set, finds the largest open-loop request rate it sustains within the
latency target, and turns the 1-versus-N runs into summary rows.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.calibration import Calibration
from bench.serving import wait_ready

REPO = Path(__file__).resolve().parents[2]
BATCH = 50
P99_MS = 50.0
RATES_UP = (1000.0, 1400.0, 2000.0, 2800.0)
RATES_DOWN = (700.0, 500.0, 350.0, 250.0, 175.0, 125.0, 90.0, 60.0, 30.0)

Load = Callable[..., dict[str, Any]]


def start(processes: int, env: dict[str, str], port: int) -> tuple[Any, str]:
    """``python -m services.collector`` with ``processes`` processes on ``port``."""
    env = {
        **env,
        "CONSENTSTREAM_COLLECTOR_PROCESSES": str(processes),
        "CONSENTSTREAM_COLLECTOR_PORT": str(port),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.collector"], env=env, cwd=REPO, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    wait_ready(proc, url, "the collector", seconds=60)
    return proc, url


def sustained(result: dict[str, Any]) -> bool:
    """p99 under the target and not one 503 (or any other failure) in the run."""
    bad = {code: n for code, n in result["statuses"].items() if code != "202"}
    return result["p99_ms"] < P99_MS and not bad


def largest_rate(load: Load, url: str, pid: int, seconds: float) -> tuple[float, dict[str, Any]]:
    """The largest request rate (single events, open loop) sustained for ``seconds``.

    Up from 1,000 req/s while it holds, else down until one holds: at most a handful of runs.
    Returns (0, the last run) when none of the rates holds.
    """

    def at(rate: float) -> dict[str, Any]:
        requests = str(int(rate * seconds))
        result = load(url, "--requests", requests, "--rate", str(rate), pid=pid)
        verdict = "holds" if sustained(result) else "does not hold"
        print(f"  {rate:,.0f} req/s: p99 {result['p99_ms']:.1f} ms {result['statuses']} {verdict}")
        return result

    best: tuple[float, dict[str, Any]] = (0.0, {})
    for rate in RATES_UP:
        result = at(rate)
        if not sustained(result):
            if best[0]:
                return best
            break
        best = (rate, result)
    else:
        return best
    for rate in RATES_DOWN:
        result = at(rate)
        if sustained(result):
            return rate, result
    return 0.0, result


def per_event_us(result: dict[str, Any], per_request: int) -> float:
    """CPU µs per event of the server's process tree in a run."""
    return float(result["cpu_ms_per_req"]) * 1000 / per_request


def figures(
    runs: dict[str, dict[str, dict[str, Any]]],
    counts: tuple[int, int],
    top: tuple[float, dict[str, Any]],
    cal: Calibration,
) -> list[dict[str, Any]]:
    """Summary rows: 1 versus N processes, each against the bare endpoint with as many."""
    rows = []
    for n in counts:
        col, bare = runs[f"collector-{n}"]["batched"], runs[f"bare-{n}"]["batched"]
        rate = col["events_per_s"]
        rows += [
            {
                "what": f"collector, 50-event batches, {n} process(es)",
                "value": rate,
                "unit": "events/s",
                "per_unit": cal.per_unit(rate),
                "baseline": bare["events_per_s"],
                "target": ">= 30% of bare endpoint",
                "met": rate >= 0.3 * bare["events_per_s"],
            },
            {
                "what": f"collector CPU per event (batches), {n} process(es)",
                "value": per_event_us(col, BATCH),
                "unit": "µs",
                "per_unit": per_event_us(col, BATCH) / cal.loop_s,
            },
        ]
    fixed = runs[f"collector-{counts[1]}"]["fixed_1000rps"]
    rows.append(
        {
            "what": f"collector p99 at 1,000 req/s, {counts[1]} processes",
            "value": fixed["p99_ms"],
            "unit": "ms",
            "target": "< 50 ms, no 503",
            "met": sustained(fixed),
        }
    )
    rate, result = top
    rows.append(
        {
            "what": f"largest rate with p99 < 50 ms and no 503, {counts[1]} processes"
            + (f" (p99 {result['p99_ms']:.1f} ms)" if rate else ""),
            "value": rate,
            "unit": "req/s",
            "target": "reported; 1,000 if sustained",
            "met": rate >= 1000,
        }
    )
    return rows
