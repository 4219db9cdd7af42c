"""Faust's own ceiling: an agent that only counts what the worker's take hands it.

Run by ``run.py`` as ``python bare_faust.py worker -l warn`` with ``BENCH_TOPIC``,
``BENCH_MESSAGES`` and ``BENCH_APP_ID`` set; prints ``FAUST <messages/s>`` once all were
consumed (Faust's cost is per Kafka message, whatever each message holds).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import faust

from streams.fetching import FETCH_MAX_BYTES
from streams.takes import steady_takes

TOPIC = os.environ["BENCH_TOPIC"]
MESSAGES = int(os.environ["BENCH_MESSAGES"])
app = faust.App(
    os.environ["BENCH_APP_ID"],
    broker=[f"kafka://{b}" for b in os.environ["BENCH_KAFKA"].split(",")],
    store="memory://",
    web_enabled=False,
    consumer_auto_offset_reset="earliest",
    datadir=f"/tmp/{os.environ['BENCH_APP_ID']}",
    stream_buffer_maxsize=10_000,
    consumer_max_fetch_size=FETCH_MAX_BYTES,  # as the worker's app
)
topic = app.topic(TOPIC, value_serializer="raw", key_serializer="raw")
state = {"n": 0, "first": 0, "t0": 0.0}
# Small enough that a few hundred messages make several takes to time; a short interval, so
# that the last take, never full, waits little: what is timed is Faust handing messages over.
TAKE, WITHIN = 100, 0.05


@app.agent(topic)
async def count(stream: Any) -> AsyncIterator[None]:
    """Count the worker's takes (``steady_takes``: 100 messages or 50 ms), nothing else.

    Timed from the end of the first take, which waited for start-up, to the last message.
    """
    async for values in steady_takes(stream, TAKE, within=WITHIN):
        if not state["t0"]:
            state["t0"], state["first"] = time.perf_counter(), len(values)
        state["n"] += len(values)
        if state["n"] >= MESSAGES:
            rate = (MESSAGES - state["first"]) / max(time.perf_counter() - state["t0"], 1e-9)
            print(f"FAUST {rate:.0f}", flush=True)
            sys.stdout.flush()
            os._exit(0)
        yield None


if __name__ == "__main__":
    app.main()
