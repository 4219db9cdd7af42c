"""CPU cost per event of crypto-shredding: sealing at the collector, opening in the worker.

Run: ``python -m bench.shredding``. In-process, no I/O: data keys come from the caches (the
collector keeps them a minute, the worker a few seconds), so what is measured is what each
event costs on top of the path it already takes. The baseline is the collector's own encoding
of the same request into Kafka values (``batching.messages``), measured in the same run.

Two shapes of the calibration's 50-event body: one visitor (one message, the common case) and
fifty visitors (fifty messages: a seal and an envelope each, the worst case per event).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import TypeAdapter

from bench import calibration
from consentstream.sealing import open_message, read_envelope, seal_message
from consentstream.shredding import new_data_key
from schemas.events import Event
from schemas.messages import RequestFacts
from services.collector import batching

SECRET = "bench-pseudonym-key-" + "x" * 20


def _accepted(visitors: int) -> list[tuple[Event, Any]]:
    items = orjson.loads(calibration._reference_body())["events"]
    for i, item in enumerate(items):
        item["visitor_id"] = f"bench_visitor_{i % visitors:04d}"
    events = TypeAdapter(list[Event]).validate_python(items)
    return list(zip(events, items, strict=True))


def _per_event_us(work: Any, events: int) -> float:
    return calibration._best(work, repeat=5, number=200) * 1e6 / events


def measure(visitors: int) -> dict[str, float]:
    """µs per event: encoding (baseline), sealing, opening, for a body of ``visitors``."""
    accepted = _accepted(visitors)
    facts = RequestFacts(ip="203.0.113.7", user_agent="Mozilla/5.0 (X11; Linux x86_64)")
    now = datetime.now(UTC)
    key_of = batching.visitor_keys(SECRET)
    messages = batching.messages(accepted, key_of, facts, now, None)
    data_key = new_data_key()
    sealed = [seal_message(data_key, key.decode(), value) for key, value in messages]

    def encode() -> None:
        batching.messages(accepted, key_of, facts, now, None)

    def seal() -> None:
        for key, value in messages:
            seal_message(data_key, key.decode(), value)

    def open_all() -> None:
        for value in sealed:
            envelope = read_envelope(value)
            assert envelope is not None
            open_message(data_key, envelope[0], envelope[1])

    n = len(accepted)
    return {
        "encode_us": _per_event_us(encode, n),
        "seal_us": _per_event_us(seal, n),
        "open_us": _per_event_us(open_all, n),
        "bytes_ratio": sum(map(len, sealed)) / sum(len(v) for _, v in messages),
    }


def main() -> None:
    """Print the calibration line and the per-event figures for both shapes."""
    cal = calibration.measure()
    print(cal.line())  # noqa: T201
    figures = []
    for visitors in (1, 50):
        started = time.perf_counter()
        got = measure(visitors)
        print(  # noqa: T201
            f"{visitors:>2} visitor(s) per 50-event request: encode {got['encode_us']:.2f} µs/event"
            f" (baseline); seal +{got['seal_us']:.2f} µs/event"
            f" ({got['seal_us'] / got['encode_us']:.0%} of encode); open {got['open_us']:.2f}"
            f" µs/event; sealed value {got['bytes_ratio']:.2f}x the plain size"
            f" [{time.perf_counter() - started:.1f} s]"
        )
        figures += [
            {
                "what": f"seal per event, {visitors} visitor(s)",
                "value": got["seal_us"],
                "unit": "µs",
                "baseline": got["encode_us"],
            },
            {
                "what": f"open per event, {visitors} visitor(s)",
                "value": got["open_us"],
                "unit": "µs",
            },
        ]
    calibration.record("shredding", cal, figures)


if __name__ == "__main__":
    main()
