"""Timing ``python -m streams`` over a pre-loaded topic: from its first take to the last row.

The first take is read from the worker's own /metrics; the CPU time of the process tree over
the same span gives the CPU per event, which the box's load moves far less than the rate.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.proctree import cpu_seconds
from bench.serving import free_port
from consentstream.storage.base import Storage

REPO = Path(__file__).resolve().parents[2]


def count(storage: Storage) -> int:
    return int(storage.query(f"SELECT count() AS n FROM {storage.database}.usage_events")[0]["n"])


def messages_taken(metrics_url: str) -> float:
    """The worker's ``messages_taken`` counter (0 until its metrics server answers)."""
    try:
        with urllib.request.urlopen(metrics_url, timeout=0.5) as response:
            text = response.read().decode()
    except OSError:
        return 0.0
    found = re.search(r"^consentstream_worker_messages_taken_total (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


@dataclass(frozen=True)
class WorkerRun:
    """One timed worker run over the pre-loaded topic."""

    rate: float
    """Events/s from the first take handed to the agent to the last row stored."""
    from_launch: float
    """Events/s from process launch (start-up, Kafka join and the first fetch included)."""
    startup: float
    """Seconds from launch to the first take."""
    stored: int
    cpu_per_event: float
    """The worker's CPU seconds per event over the timed part: its cost whatever the load."""


def run_worker(
    env: dict[str, str],
    storage: Storage,
    n: int,
    ready: Callable[[], None] | None = None,
    code: Path = REPO,
) -> WorkerRun:
    """Time ``python -m streams`` over the pre-loaded topic.

    The clock starts when the worker's first ``stream.take`` reaches the agent (its
    ``messages_taken`` counter, read from /metrics), not at the first stored row: a take holds
    up to ``sink_batch_size`` messages, so with a large take the first row lands only after the
    whole first take was processed and timing from it measured little but the last inserts.
    What the first take's fetch cost (at most ``sink_flush_seconds``) is left out, as the
    bare-Faust figure leaves out its first take; the from-launch figure includes everything.
    ``ready``, when given, runs once the process started (it may wait for it, and fill the topic).
    ``code`` is the checkout whose worker runs (another worktree, for before/after pairs).
    """
    port = free_port()
    env = {**env, "CONSENTSTREAM_WORKER_METRICS_PORT": str(port)}
    metrics_url = f"http://127.0.0.1:{port}/metrics"
    launched = time.perf_counter()
    log = Path(env["CONSENTSTREAM_WORKER_DATA_DIR"] + ".log")
    with log.open("wb") as out:  # Faust draws a spinner on a terminal
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams"],
            env={**env, "PYTHONPATH": str(code)},
            cwd=code,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        if ready is not None:
            ready()
        first_take = cpu_at_take = 0.0
        while not first_take or (stored := count(storage)) < n:
            if proc.poll() is not None:
                raise SystemExit(f"worker exited:\n{log.read_text(errors='replace')[-3000:]}")
            if not first_take and messages_taken(metrics_url) > 0:
                first_take, cpu_at_take = time.perf_counter(), cpu_seconds(proc.pid)
            time.sleep(0.02 if not first_take else 0.05)
        finished = time.perf_counter()
        cpu = cpu_seconds(proc.pid) - cpu_at_take
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:  # Faust can wait on an unacked message for ever
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    return WorkerRun(
        rate=n / max(finished - first_take, 1e-9),
        from_launch=n / (finished - launched),
        startup=first_take - launched,
        stored=stored,
        cpu_per_event=cpu / n,
    )
