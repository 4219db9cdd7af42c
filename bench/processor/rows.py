"""The worker's per-event work besides Kafka and Redis, offline: decode, pipeline, columns.

    .venv/bin/python -m bench.processor.rows [--events 20000] [--rounds 5]

The bench's own input (``load.raw_batches``: 50-event requests, a third anonymous, the rest
from 500 visitors with an analytics grant) as the raw topic holds it, then in one process,
CPU time per event of each stage, least disturbed of ``--rounds`` (the stages take turns in
each round, so the box's load reaches them all):

- ``decode``: ``decode_raw_events`` and one ``Work`` per event, as ``EventsAgent._decode``;
- ``pipeline``: the pipeline per event (and ``observe_cookies`` for an event reporting cookies),
  as ``EventsAgent._kept_rows``, in chunks of ``sink_batch_size``;
- ``columns``: each chunk's insert token and insert columns, as the insert thread builds them
  for a ``DateTime`` server (``binding.row_columns`` with Unix seconds and UTF-8 text).

Run it from a checkout of another commit (``PYTHONPATH=that/checkout``) for a before/after
pair: it uses ``pipeline.run_values`` where that exists and ``pipeline.run`` before it.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from bench.calibration import measure, record
from bench.processor.load import analytics_grant, raw_batches
from consentstream.identity import pseudonymize
from consentstream.storage import binding, sql
from schemas.consent import ConsentHistory, snapshot_of
from streams import pipeline
from streams.__main__ import tune_gc
from streams.agents.events import decode_raw_events
from streams.inserts import batch_token

KEY = "bench-rows-pseudonym-key"
CHUNK = 5000


def histories(visitors: list[str]) -> dict[str, ConsentHistory]:
    """Each visitor's analytics grant of a day ago, as the consent agent would hold it."""
    out = {}
    for visitor in visitors:
        decision = analytics_grant(visitor)
        out[pseudonymize(visitor, KEY)] = ConsentHistory().with_decision(snapshot_of(decision))
    return out


def decode(values: list[bytes]) -> list[pipeline.Work]:
    """One work per event, the pseudonym made once per request (as the events agent does)."""
    works = []
    for value in values:
        vid: str | None = None
        key = ""
        for raw in decode_raw_events(value):
            if raw.event.visitor_id != vid:
                vid = raw.event.visitor_id
                key = pseudonymize(vid, KEY) if vid else ""
            works.append(pipeline.Work(raw, key, raw.event.ts))
    return works


def kept(works: list[pipeline.Work], ctx: pipeline.Context) -> list[list[Any]]:
    """The pipeline's rows, chunk by chunk (cells where the code builds them, else models)."""
    run: Callable[[pipeline.Work, pipeline.Context], Any] = getattr(
        pipeline, "run_values", pipeline.run
    )
    chunks = []
    for start in range(0, len(works), CHUNK):
        rows = []
        for work in works[start : start + CHUNK]:
            if work.raw.event.cookies:
                pipeline.observe_cookies(work, ctx)
            result = run(work, ctx)
            if not isinstance(result, pipeline.Dropped):
                rows.append(result)
        chunks.append(rows)
    return chunks


def columns(chunks: list[list[Any]]) -> None:
    """Each chunk's insert token and columns, as the insert thread makes them."""
    for rows in chunks:
        ids = [row[0] if type(row) is tuple else row.event_id for row in rows]
        try:
            batch_token(ids)
        except AttributeError:  # before the token took ids: it took the row models
            batch_token(rows)
        try:  # text as UTF-8 bytes, as the server storage sends it since it could
            binding.row_columns(sql.USAGE_EVENTS, rows, epoch_seconds=True, utf8=True)
        except TypeError:
            binding.row_columns(sql.USAGE_EVENTS, rows, epoch_seconds=True)


def per_event_us(values: list[bytes], known: dict[str, ConsentHistory], rounds: int) -> Any:
    """CPU µs per event of each stage, least disturbed of ``rounds``."""
    best = {"decode": float("inf"), "pipeline": float("inf"), "columns": float("inf")}
    events = 0
    for _ in range(rounds):
        started = time.process_time()
        works = decode(values)
        decoded = time.process_time()
        chunks = kept(works, pipeline.Context(known, frozenset(), salt="bench-day-salt"))
        piped = time.process_time()
        columns(chunks)
        done = time.process_time()
        events = len(works)
        for name, seconds in (
            ("decode", decoded - started),
            ("pipeline", piped - decoded),
            ("columns", done - piped),
        ):
            best[name] = min(best[name], seconds)
    return {name: seconds / events * 1e6 for name, seconds in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    cal = measure()
    print(cal.line(), flush=True)
    visitors = [f"bench_visitor_{i:04d}" for i in range(500)]
    values = [b.model_dump_json().encode() for b in raw_batches(args.events, visitors, 50)]
    known = histories(visitors)
    tune_gc()  # as the worker runs
    figures = per_event_us(values, known, args.rounds)
    print("  ".join(f"{name} {us:.2f}" for name, us in figures.items()), "µs CPU per event")
    record(
        "rows", cal, [{"what": f"rows: {n}", "value": v, "unit": "µs"} for n, v in figures.items()]
    )


if __name__ == "__main__":
    main()
