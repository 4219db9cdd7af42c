"""Faust's own ceiling: an agent that only counts what ``stream.take`` hands it.

Run by ``run.py`` as ``python bare_faust.py worker -l warn`` with ``BENCH_TOPIC``,
``BENCH_EVENTS`` and ``BENCH_APP_ID`` set; prints ``FAUST <events/s>`` once all were consumed.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import faust

TOPIC = os.environ["BENCH_TOPIC"]
EVENTS = int(os.environ["BENCH_EVENTS"])
app = faust.App(
    os.environ["BENCH_APP_ID"],
    broker=[f"kafka://{b}" for b in os.environ["BENCH_KAFKA"].split(",")],
    store="memory://",
    web_enabled=False,
    consumer_auto_offset_reset="earliest",
    datadir=f"/tmp/{os.environ['BENCH_APP_ID']}",
    stream_buffer_maxsize=10_000,
)
topic = app.topic(TOPIC, value_serializer="raw", key_serializer="raw")
state = {"n": 0, "t0": 0.0}


@app.agent(topic)
async def count(stream: Any) -> AsyncIterator[None]:
    """Count batches as the worker takes them (5,000 or 1 s), nothing else."""
    async for values in stream.take(5000, within=1.0):
        state["t0"] = state["t0"] or time.perf_counter()
        state["n"] += len(values)
        if state["n"] >= EVENTS:
            print(f"FAUST {EVENTS / (time.perf_counter() - state['t0']):.0f}", flush=True)
            sys.stdout.flush()
            os._exit(0)
        yield None


if __name__ == "__main__":
    app.main()
