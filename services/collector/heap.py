"""Garbage-collector settings for a long-running collector process.

A 50-event request allocates thousands of short-lived objects, so CPython's default gen-0
threshold (700) starts a collection on nearly every request, and every so often a full
collection walks the whole start-up heap (FastAPI, pydantic schemas, clients): 40-60 ms with
the event loop stopped, which is the p99. Freezing the start-up heap takes it out of every
later collection; a larger gen-0 threshold makes the cheap collections rarer. Reference cycles
are still collected, only later.
"""

from __future__ import annotations

import gc

GEN0_THRESHOLD = 10_000  # allocations between young collections (default 700)


def settle_after_startup() -> None:
    """Collect start-up garbage once, then freeze what survives and space out collections."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
