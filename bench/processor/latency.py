"""End-to-end latency: collector POST → row queryable in ClickHouse, at a steady rate.

Pieces of the end-to-end bench (``e2e.py`` runs them against a collector and a worker):

- a lean load generator: one aiohttp session with keep-alive connections, bodies built
  before the clock starts, POSTs on a fixed schedule (open loop: a slow answer never delays
  the next request, so a stall is not hidden); the httpx one it replaces cost about twice
  the CPU per event, on the same two cores as what it measures;
- a poller that records when each event id first became visible in ClickHouse (every 50 ms);
- a sampler of the worker's counters (messages taken, events stored) every 100 ms, so the
  time an event spent before the worker took it, in the worker, and before it was visible can
  be told apart (:func:`stages`, by matching cumulative counts, first in first out).

Latency of an event = first poll that saw it - its batch's scheduled send time (so a slow
collector or a late load generator counts against it).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson

from consentstream.storage.base import Storage

BATCH = 50
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0"
VISITORS = [f"latency_visitor_{i:04d}" for i in range(200)]


def start(module: str, env: dict[str, str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    """``python -m module`` in its own session, output to ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", module],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group; SIGKILL after 30 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@dataclass(frozen=True)
class Request:
    """One browser's batch: its event ids, the body and its visitor cookie."""

    ids: list[str]
    body: bytes
    headers: dict[str, str]


def requests(count: int, first: int = 0) -> list[Request]:
    """``count`` batches of 50 events (every third anonymous), built before the clock starts."""
    now = datetime.now(UTC).isoformat()
    out = []
    for n in range(first, first + count):
        ids = [str(uuid.uuid4()) for _ in range(BATCH)]
        events = [
            {
                "event_id": event_id,
                "type": "pageview",
                "ts": now,
                "page": {"url": f"https://example.com/tariffs/{i}?utm_source=news"},
                "browser": {"user_agent": UA, "language": "en-GB"},
            }
            for i, event_id in enumerate(ids)
        ]
        headers = {"Content-Type": "application/json"}
        if n % 3:
            headers["Cookie"] = f"cs_vid={VISITORS[n % len(VISITORS)]}"
        out.append(Request(ids, orjson.dumps({"events": events, "sent_at": now}), headers))
    return out


@dataclass
class Load:
    """What a load phase sent: per event its scheduled time, per request its answer time."""

    due: dict[str, float] = field(default_factory=dict)
    answered: list[tuple[float, float]] = field(default_factory=list)
    """(scheduled, answered) of each request answered 202."""
    failures: int = 0

    @property
    def events(self) -> int:
        """Events accepted (answered 202)."""
        return len(self.answered) * BATCH


async def post_at(
    session: aiohttp.ClientSession,
    url: str,
    rate: float,
    batches: list[Request],
    load: Load | None = None,
) -> Load:
    """POST ``batches`` at ``rate`` events/s on a fixed schedule; wait for every answer.

    Each event's scheduled time is in ``load.due`` from before its POST (a poller watching it
    sees the row as soon as it is visible), and taken out again if the POST fails.
    """
    load = load or Load()
    interval = BATCH / rate
    begin = time.time()

    async def post(request: Request, due: float) -> None:
        for event_id in request.ids:
            load.due[event_id] = due
        try:
            async with session.post(url, data=request.body, headers=request.headers) as answer:
                await answer.read()
                ok = answer.status == 202
        except aiohttp.ClientError:
            ok = False
        if ok:
            load.answered.append((due, time.time()))
        else:
            load.failures += 1
            for event_id in request.ids:
                load.due.pop(event_id, None)

    tasks = []
    for n, request in enumerate(batches):
        due = begin + n * interval
        await asyncio.sleep(max(0.0, due - time.time()))
        tasks.append(asyncio.create_task(post(request, due)))
    await asyncio.gather(*tasks)
    return load


async def poll_visible(
    storage: Storage, due: dict[str, float], seen: dict[str, float], until: list[float]
) -> None:
    """Record when each event id of ``due`` first became visible (rows from the oldest unseen)."""
    statement = (
        f"SELECT toString(event_id) AS id FROM {storage.database}.usage_events"
        " WHERE received_at >= %(since)s"
    )
    while time.time() < until[0]:
        pending = [t for k, t in list(due.items()) if k not in seen]
        # received_at is the collector's receipt (after the schedule), kept in whole seconds
        # on 18.16: a second's margin finds every pending row and fetches little else.
        since = datetime.fromtimestamp((min(pending) if pending else time.time()) // 1 - 1, UTC)
        rows = await asyncio.to_thread(storage.query, statement, {"since": since})
        now = time.time()
        for row in rows:
            if row["id"] in due:
                seen.setdefault(row["id"], now)
        await asyncio.sleep(0.05)


COUNTERS = {
    "taken": "consentstream_worker_messages_taken_total",
    "stored": "consentstream_worker_events_stored_total",
}


async def read_counters(session: aiohttp.ClientSession, metrics_url: str) -> dict[str, float]:
    """The worker's take and store counters from its /metrics (zeros while it is not up)."""
    try:
        async with session.get(metrics_url, timeout=aiohttp.ClientTimeout(total=1)) as answer:
            text = await answer.text()
    except (aiohttp.ClientError, TimeoutError):
        return dict.fromkeys(COUNTERS, 0.0)
    found = {}
    for name, metric in COUNTERS.items():
        match = re.search(rf"^{metric} (\S+)$", text, re.M)
        found[name] = float(match.group(1)) if match else 0.0
    return found


@dataclass
class Sampler:
    """The worker's counters every 100 ms: (time, messages taken, events stored)."""

    samples: list[tuple[float, float, float]] = field(default_factory=list)
    running: bool = True

    async def run(self, session: aiohttp.ClientSession, metrics_url: str) -> None:
        """Sample until ``running`` is cleared."""
        while self.running:
            found = await read_counters(session, metrics_url)
            self.samples.append((time.time(), found["taken"], found["stored"]))
            await asyncio.sleep(0.1)

    def at(self, moment: float) -> tuple[float, float]:
        """(taken, stored) of the last sample at or before ``moment``."""
        last = (0.0, 0.0)
        for t, taken, stored in self.samples:
            if t > moment:
                break
            last = (taken, stored)
        return last

    @property
    def stored(self) -> float:
        """Events stored at the latest sample."""
        return self.samples[-1][2] if self.samples else 0.0


def _crossings(times: list[float], counts: list[float], targets: list[float]) -> list[float]:
    """For each target count, the first time the cumulative ``counts`` reached it."""
    out = []
    for target in targets:
        i = bisect_left(counts, target)
        out.append(times[i] if i < len(times) else float("nan"))
    return out


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(v for v in values if v == v)  # NaN: never reached
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")


def stages(
    load: Load,
    seen: dict[str, float],
    sampler: Sampler,
    kafka_times: list[float],
    per_message: float,
    begin: float,
) -> dict[str, tuple[float, float]]:
    """p50/p95 of the time from an event's schedule to each stage, by cumulative counts.

    Stages whose times are known per request or per event (answer, visible) are exact; the
    others (Kafka producer timestamp, worker take, insert done) match the k-th event sent with
    the k-th event counted there after ``begin`` (first in first out; 100 ms sampling).
    """
    dues = sorted(load.due.values())
    targets = [float(k + 1) for k in range(len(dues))]
    out = {"answered": [a - d for d, a in load.answered]}
    kafka = sorted(t for t in kafka_times if t >= begin)
    out["in Kafka"] = [
        t - d
        for t, d in zip(
            _crossings(kafka, [per_message * (i + 1) for i in range(len(kafka))], targets),
            dues,
            strict=True,
        )
    ]
    taken0, stored0 = sampler.at(begin)
    after = [s for s in sampler.samples if s[0] >= begin]
    times = [s[0] for s in after]
    taken = [(s[1] - taken0) * per_message for s in after]
    stored = [s[2] - stored0 for s in after]
    for name, counts in (("taken", taken), ("stored", stored)):
        reached = _crossings(times, counts, targets)
        out[name] = [t - d for t, d in zip(reached, dues, strict=True)]
    out["visible"] = [seen[k] - d for k, d in load.due.items() if k in seen]
    return {name: (_pct(v, 0.5), _pct(v, 0.95)) for name, v in out.items()}
