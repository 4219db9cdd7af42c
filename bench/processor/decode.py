"""The worker's decode, side by side: pydantic-core's paths and msgspec, on the same messages.

    .venv/bin/python -m bench.processor.decode [--messages 400]

Decodes 50-event ``RawBatch`` messages as the collector writes them, CPU time per event, best
of several rounds, in one process (so the paths share the box's load):

- ``pydantic validate_json``: what the worker did until 2026-11-30 (``RAW_MESSAGE.validate_json``);
- ``orjson + validate_python``: what the worker did until 2026-11-30 afternoon (``decode_raw``):
  orjson, then validation; ``+ RawEvents`` adds the split into one ``RawEvent`` per event;
- ``orjson + msgspec.convert``: what the worker did until 2026-11-30 evening: orjson, then
  ``msgspec.convert`` into the Structs (here without the checks it made after);
- ``msgspec first``: what the worker does (``decode_raw_events``): ``schemas.fast_messages``
  decodes the bytes straight into msgspec Structs with its checks, one Struct per event (the
  models, after orjson, only on refusal);
- ``msgspec Structs``: ``msgspec.json.decode`` straight from bytes into the worker's own Structs
  (``schemas.fast_messages.FastRawBatch``), skipping the checks of ``schemas.fast_events``: a
  floor for any msgspec path, not one that reads as the models do.

It also prints how each path words the error for one bad event, since the dead-letter reason
and the collector's 400 are read by people.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import msgspec
import orjson

from bench.calibration import measure, record
from bench.processor.load import raw_batches
from schemas.fast_messages import FastRawBatch
from streams.__main__ import tune_gc
from streams.agents.events import RAW_MESSAGE, decode_raw, decode_raw_events, raw_events_of


def models_split(value: bytes) -> Any:
    """The models' path as the worker ran it: decode, then one ``RawEvent`` per event."""
    return raw_events_of(decode_raw(value))


def convert_after_orjson(value: bytes) -> Any:
    """orjson, then ``msgspec.convert`` into the worker's Structs (the path before bytes)."""
    return msgspec.convert(orjson.loads(value), FastRawBatch)


def msgspec_decoder() -> Callable[[bytes], Any]:
    """``msgspec.json`` decoding straight into the worker's own Structs, without their checks."""
    return msgspec.json.Decoder(FastRawBatch).decode


def per_event_us(
    paths: dict[str, Callable[[bytes], Any]], values: list[bytes], events: int, rounds: int = 7
) -> dict[str, float]:
    """CPU µs per event to decode every message, per path: best of ``rounds``.

    The paths take turns within each round, so a swing in the box's load reaches them all.
    """
    best = dict.fromkeys(paths, float("inf"))
    for _ in range(rounds):
        for name, decode in paths.items():
            started = time.process_time()
            for value in values:
                decode(value)
            best[name] = min(best[name], time.process_time() - started)
    return {name: seconds / events * 1e6 for name, seconds in best.items()}


def error_of(decode: Callable[[bytes], Any], value: bytes) -> str:
    """How a path words the error of a message with one bad event."""
    try:
        decode(value)
    except Exception as exc:  # each library raises its own error type
        return " ".join(str(exc).split())[:160]
    return "(accepted)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=400)
    args = parser.parse_args()
    cal = measure()
    print(cal.line(), flush=True)
    visitors = [f"bench_visitor_{i:04d}" for i in range(500)]
    batches = raw_batches(args.messages * 50, visitors, 50)
    values = [batch.model_dump_json().encode() for batch in batches]
    events = sum(len(batch.events) for batch in batches)
    paths: dict[str, Callable[[bytes], Any]] = {
        "pydantic validate_json": RAW_MESSAGE.validate_json,
        "orjson + validate_python": decode_raw,
        "orjson + validate_python + RawEvents": models_split,
        "orjson + msgspec.convert": convert_after_orjson,
        "msgspec first (the worker's)": decode_raw_events,
        "msgspec Structs": msgspec_decoder(),
    }
    bad = orjson.loads(values[0])
    bad["events"][7]["visitor_id"] = "no spaces allowed"
    bad_value = orjson.dumps(bad)
    tune_gc()
    figures = []
    for name, us in per_event_us(paths, values, events).items():
        decode = paths[name]
        print(f"{name:40} {us:6.2f} µs/event  error: {error_of(decode, bad_value)}")
        figures.append({"what": f"decode: {name}", "value": us, "unit": "µs"})
    record("decode", cal, figures)


if __name__ == "__main__":
    main()
