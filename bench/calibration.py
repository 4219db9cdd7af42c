"""How fast this machine is, measured the same way in every benchmark run.

Machines differ several-fold in speed per core, so an absolute figure says little on its own.
Every benchmark measures, in the same run, a fixed reference workload and prints it beside its
own figures, so two runs on different boxes can be compared:

- ``loop``: a 3,000,000-iteration pure-Python loop (the interpreter's raw speed);
- ``parse``: orjson parsing a fixed 50-event body as the snippet sends it;
- ``validate``: the collector's own pydantic models validating that parsed body.

Each is the best of several repetitions (the least disturbed by other load). A throughput is
also given per *calibration unit*: events per second multiplied by the loop's seconds, i.e. the
events processed in the time this box takes for the reference loop, which stays roughly level
from a slow box to a fast one when the code is the same.

Results of a run are appended as JSON lines to ``$BENCH_RESULTS`` (if set), which
``bench.summary`` turns into one table.
"""

from __future__ import annotations

import json
import os
import platform
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson
from pydantic import TypeAdapter

from schemas.events import Event

LOOP_ITERATIONS = 3_000_000
BODY_EVENTS = 50


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _reference_body() -> bytes:
    """A fixed 50-event batch (documentation values only), the same bytes on every box."""
    namespace = uuid.UUID("00000000-0000-4000-8000-000000000000")
    events = [
        {
            "event_id": str(uuid.uuid5(namespace, str(i))),
            "type": "pageview",
            "ts": "2026-11-28T12:00:00Z",
            "visitor_id": "calibration_visitor_0001",
            "consent_id": "c" * 32,
            "page": {
                "url": f"https://www.example.com/tariffs/{i}?utm_source=calibration",
                "title": "Electricity tariffs",
                "referrer": "https://search.example.com/",
            },
            "browser": {
                "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0",
                "language": "en-GB",
                "screen": "1920x1080",
                "timezone": "Europe/London",
            },
            "props": {"section": "tariffs", "step": i},
        }
        for i in range(BODY_EVENTS)
    ]
    return orjson.dumps({"events": events, "sent_at": "2026-11-28T12:00:01Z"})


def _best(work: Any, repeat: int, number: int) -> float:
    """Seconds of one call of ``work``: the best of ``repeat`` rounds of ``number`` calls."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(number):
            work()
        best = min(best, (time.perf_counter() - started) / number)
    return best


def _loop() -> int:
    total = 0
    for i in range(LOOP_ITERATIONS):
        total += i
    return total


@dataclass(frozen=True)
class Calibration:
    """The box and its time for the reference workloads, from this run."""

    cpu_model: str
    cores: int
    python: str
    loop_s: float
    parse_us: float
    validate_us: float

    def line(self) -> str:
        """One line to print at the top of every benchmark's output."""
        return (
            f"calibration: {self.cpu_model}, {self.cores} cores, Python {self.python}; "
            f"3M-iteration loop {self.loop_s:.3f} s; 50-event body: orjson parse "
            f"{self.parse_us:.0f} µs, validate {self.validate_us:.0f} µs"
        )

    def per_unit(self, events_per_second: float) -> float:
        """Events processed in the time this box takes for the reference loop."""
        return events_per_second * self.loop_s


def measure() -> Calibration:
    """Time the reference workloads (about two seconds in all)."""
    body = _reference_body()
    events = orjson.loads(body)["events"]
    adapter = TypeAdapter(list[Event])
    adapter.validate_python(events)  # build the validator outside the timing
    return Calibration(
        cpu_model=_cpu_model(),
        cores=os.cpu_count() or 1,
        python=platform.python_version(),
        loop_s=_best(_loop, repeat=3, number=1),
        parse_us=_best(lambda: orjson.loads(body), repeat=5, number=200) * 1e6,
        validate_us=_best(lambda: adapter.validate_python(events), repeat=5, number=100) * 1e6,
    )


def record(bench: str, calibration: Calibration, figures: list[dict[str, Any]]) -> None:
    """Append this run's figures to ``$BENCH_RESULTS`` for the summary table, if it is set.

    Each figure is a dict with ``what``, ``value`` (a number), ``unit``, and optionally
    ``baseline`` (the same quantity of the baseline measured in this run), ``target`` (text)
    and ``met`` (bool).
    """
    target = os.environ.get("BENCH_RESULTS")
    if not target:
        return
    line = {"bench": bench, "calibration": asdict(calibration), "figures": figures}
    with Path(target).open("a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")
