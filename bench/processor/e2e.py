"""End-to-end bench: capacity through the collector, then latency at half of it, same run.

``python -m bench.processor.e2e [--seconds 10] [--rate R] [--repo PATH]`` (or ``run.py``).
The collector and one worker of ``--repo`` (default: this checkout) run as processes, sealed
messages as deployed, beside the box's Kafka, ClickHouse, Redis and the load generator:

1. warm-up (500 events/s for 2 s, all stored: the worker has joined its group);
2. **capacity**: steps of 6 s from ``--ramp-start`` events/s, x1.4 each, until a step adds a
   second of traffic or more to the backlog (or the collector refuses or answers late): the
   events/s the worker stored during that step, busy throughout, is the capacity (a little
   low, if anything: the collector works at the offered rate, above it, on the same cores);
3. drained, **steady** at half that capacity (or ``--rate``) for ``--seconds``: latency POST
   → visible, the time to each stage (``latency.stages``), each process's CPU from /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer

from bench.processor import latency
from bench.processor.usage import CpuMeter
from consentstream.storage.base import Storage

STEP_SECONDS = 6.0
GROWTH = 1.4
MOST = 60_000.0


@dataclass(frozen=True)
class Stack:
    """The running collector and worker: where to post, where the worker's counters are."""

    url: str
    metrics_url: str
    raw_topic: str
    kafka: str
    pids: dict[str, int]


async def _drain(sampler: latency.Sampler, target: float, seconds: float = 120) -> bool:
    deadline = time.time() + seconds
    while sampler.stored < target:
        if time.time() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True


@dataclass
class Ramp:
    """Events accepted since the ramp began, and the stored counter then."""

    base: float
    accepted: float = 0.0

    def backlog(self, sampler: latency.Sampler) -> float:
        """Accepted but not yet stored, as of the sampler's latest reading."""
        return self.accepted - (sampler.stored - self.base)


async def _step(
    session: aiohttp.ClientSession,
    stack: Stack,
    sampler: latency.Sampler,
    ramp: Ramp,
    rate: float,
) -> dict[str, Any]:
    """One step at ``rate``: whether the worker or the collector fell behind, and the figures."""
    batches = latency.requests(_count(rate))
    before = ramp.backlog(sampler)
    meter = CpuMeter(stack.pids)
    began = time.time()
    load = await latency.post_at(session, f"{stack.url}/v1/events", rate, batches)
    ended = time.time()
    cpu = meter.read()
    ramp.accepted += load.events
    await asyncio.sleep(0.25)  # the sampler's reading of the step's end
    stored = sampler.at(ended)[1] - sampler.at(began)[1]
    backlog = ramp.backlog(sampler)
    late = max((a - d for d, a in load.answered), default=0.0)
    return {
        "offered": rate,
        "answered": load.events / (ended - began),
        "capacity": stored / (ended - began),
        "failures": load.failures,
        "backlog": backlog,
        # A second of traffic or more added to the backlog in one step (the worker stored
        # under ~83% of it; a take's rows land at once, so less is noise), or a collector that
        # refused or answered late: this rate is more than the stack sustains.
        "behind": backlog - before > rate or bool(load.failures) or late > 1.0,
        "cpu": cpu,
        "stored": stored,
    }


async def _capacity(
    session: aiohttp.ClientSession, stack: Stack, sampler: latency.Sampler, first: float
) -> dict[str, Any]:
    """Ramp x1.4 per step until a step falls behind: the events/s the worker stored during it,
    busy throughout, is the capacity (the collector's, if it was the one that fell behind)."""
    ramp, rate = Ramp(sampler.stored), first
    while True:
        step = await _step(session, stack, sampler, ramp, rate)
        print(
            f"ramp      {rate:>8,.0f} ev/s offered: answered {step['answered']:,.0f}, stored"
            f" {step['capacity']:,.0f} ev/s, backlog {step['backlog']:,.0f}"
            + (" (behind)" if step["behind"] else ""),
            flush=True,
        )
        if step["behind"] or rate * GROWTH > MOST:
            break
        rate *= GROWTH
    step["drained"] = await _drain(sampler, ramp.base + ramp.accepted)
    return step


def _count(rate: float, seconds: float = STEP_SECONDS) -> int:
    return max(1, int(rate * seconds / latency.BATCH))


async def kafka_timestamps(bootstrap: str, topic: str) -> list[float]:
    """The producer timestamp (seconds) of every message on ``topic``."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        while not consumer.assignment():  # no group: every partition, once metadata is in
            await asyncio.sleep(0.1)
        parts = list(consumer.assignment())
        ends = await consumer.end_offsets(parts)
        out: list[float] = []
        while [p for p in parts if await consumer.position(p) < ends[p]]:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                out.extend(r.timestamp / 1000 for r in records)
        return out
    finally:
        await consumer.stop()


async def _steady(
    session: aiohttp.ClientSession,
    stack: Stack,
    storage: Storage,
    sampler: latency.Sampler,
    rate: float,
    seconds: float,
) -> dict[str, Any]:
    """``seconds`` at ``rate``: when each event became visible, CPU, the largest backlog."""
    batches = latency.requests(_count(rate, seconds))
    seen: dict[str, float] = {}
    load = latency.Load()
    until = [float("inf")]
    meter = CpuMeter(stack.pids)
    begin = time.time()
    poller = asyncio.create_task(latency.poll_visible(storage, load.due, seen, until))
    await latency.post_at(session, f"{stack.url}/v1/events", rate, batches, load)
    deadline = time.time() + 20
    while time.time() < deadline and len(seen) < len(load.due):
        await asyncio.sleep(0.2)
    cpu = meter.read()
    until[0] = 0
    await poller
    visible = sorted(seen[k] - t for k, t in load.due.items() if k in seen)
    stored_before = sampler.at(begin)[1]
    backlog = max(
        (
            sum(a <= t for _, a in load.answered) * latency.BATCH - (stored - stored_before)
            for t, _, stored in sampler.samples
            if begin <= t <= begin + seconds
        ),
        default=0.0,
    )
    return {
        "load": load,
        "seen": seen,
        "visible": visible,
        "cpu": cpu,
        "begin": begin,
        "max_backlog": backlog,
    }


async def measure(
    stack: Stack, storage: Storage, seconds: float, rate: float, ramp_start: float
) -> dict[str, Any]:
    """Warm-up, capacity (unless ``rate``), drain, steady; the figures of each phase."""
    connector = aiohttp.TCPConnector(limit=512)
    async with aiohttp.ClientSession(connector=connector) as session:
        sampler = latency.Sampler()
        sampling = asyncio.create_task(sampler.run(session, stack.metrics_url))
        try:
            warm = await latency.post_at(
                session, f"{stack.url}/v1/events", 500, latency.requests(20)
            )
            if warm.failures or not await _drain(sampler, warm.events, 90):
                raise SystemExit(f"warm-up not stored: {warm.failures} failed, {sampler.stored}")
            found: dict[str, Any] = {}
            if not rate:
                found["capacity"] = await _capacity(session, stack, sampler, ramp_start)
                rate = found["capacity"]["capacity"] / 2
            found["rate"] = rate
            found["steady"] = await _steady(session, stack, storage, sampler, rate, seconds)
        finally:
            sampler.running = False
            await sampling
    times = await kafka_timestamps(stack.kafka, stack.raw_topic)
    per_message = sampler.stored / max(1, len(times))
    steady = found["steady"]
    found["per_message"] = per_message
    found["stages"] = latency.stages(
        steady["load"], steady["seen"], sampler, times, per_message, steady["begin"]
    )
    return found


def report(found: dict[str, Any], plaintext: float | None) -> dict[str, float]:
    """Print every phase's figures; return the steady phase's percentiles."""
    if "capacity" in found:
        c = found["capacity"]
        print(
            f"capacity  {c['capacity']:>8,.0f} events/s stored by one worker, saturated, through"
            f" the collector (sealed), same box: offered {c['offered']:,.0f}, answered"
            f" {c['answered']:,.0f} ev/s over {STEP_SECONDS:.0f}s, backlog {c['backlog']:,.0f},"
            f" failed {c['failures']}, drained {c['drained']}",
            flush=True,
        )
        _cpu_line("  cpu while saturated", c["cpu"], c["stored"])
    if plaintext:
        print(
            f"context   one process alone, plaintext (run.py's worker run): {plaintext:,.0f} ev/s"
        )
    s = found["steady"]
    visible, load = s["visible"], s["load"]
    if not visible:
        print(f"latency   nothing became visible ({load.failures} failed)")
        return {"missing": float(len(load.due))}
    pct = {p: visible[min(len(visible) - 1, int(p / 100 * len(visible)))] for p in (50, 95, 99)}
    out = {
        "rate": found["rate"],
        "p50": pct[50],
        "p95": pct[95],
        "p99": pct[99],
        "max": visible[-1],
        "events": float(len(load.due)),
        "missing": float(len(load.due) - len(visible)),
        "failed_batches": float(load.failures),
    }
    print(
        f"latency   POST → queryable at {found['rate']:,.0f} ev/s: p50 {out['p50']:.2f}s"
        f"  p95 {out['p95']:.2f}s  p99 {out['p99']:.2f}s  max {out['max']:.2f}s"
        f"  ({len(load.due):,} events, missing {out['missing']:.0f}, failed batches"
        f" {load.failures}; worker backlog at most {s['max_backlog']:,.0f} events;"
        f" {found['per_message']:.1f} events per Kafka message)",
        flush=True,
    )
    print(
        "stages    from schedule, p50/p95: "
        + "  ".join(f"{k} {a:.2f}/{b:.2f}s" for k, (a, b) in found["stages"].items()),
        flush=True,
    )
    _cpu_line("  cpu in steady state", s["cpu"], len(visible))
    return out


def _cpu_line(what: str, cpu: dict[str, float], events: float) -> None:
    seconds = cpu.pop("seconds")
    parts = [
        f"{name} {used / seconds:.2f} cores ({used / max(events, 1) * 1e6:.0f} µs/ev)"
        for name, used in cpu.items()
    ]
    print(f"{what} ({seconds:.1f}s): " + ", ".join(parts), flush=True)


def main() -> None:
    """Start the stack from ``--repo``, measure, print."""
    from bench.calibration import measure as calibrate
    from bench.processor.run import run_e2e  # the settings of a bench run live there

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rate", type=float, default=0, help="0: half the measured capacity")
    parser.add_argument("--ramp-start", type=float, default=1000)
    parser.add_argument("--repo", type=Path, default=None, help="run this checkout's code")
    args = parser.parse_args()
    print(calibrate().line(), flush=True)
    run_e2e(args.rate, args.seconds, repo=args.repo, ramp_start=args.ramp_start)


if __name__ == "__main__":
    main()
