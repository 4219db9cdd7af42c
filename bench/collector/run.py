"""Collector benchmark, one command: ``.venv/bin/python bench/collector/run.py``.

Starts, on loopback, the collector as deployed (``python -m services.collector``: N processes
on one port, then one) and a bare FastAPI app that parses and discards the same body (uvicorn
with as many workers); a separate load-generating process measures each. With N processes it
also finds the largest request rate held with p99 < 50 ms and no 503 (``deployed.py``). Raw
aiokafka producer throughput (acks=all, idempotent) is measured in the same run, and the
ratios are printed (targets: bench/collector/README.md).

The per-IP rate limit is turned off: all load comes from one loopback address.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO), str(HERE.parent)]

from bench.calibration import measure, record  # noqa: E402
from bench.collector import deployed  # noqa: E402
from bench.collector.loadgen import make_event  # noqa: E402
from bench.proctree import cpu_seconds  # noqa: E402
from bench.serving import free_port, wait_ready  # noqa: E402
from consentstream.kafka_topics import ensure_topics, plan  # noqa: E402
from consentstream.settings import CommonSettings  # noqa: E402
from consentstream.topics import Topics  # noqa: E402
from schemas.events import Event  # noqa: E402
from schemas.messages import RawBatch, RequestFacts  # noqa: E402

BATCH = 50


def start_server(app: str, workers: int, env: dict[str, str], app_dir: Path) -> tuple[Any, str]:
    """uvicorn as in production: no reload, no access log, our own proxy handling."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", app, "--factory", "--app-dir", str(app_dir)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    command += ["--no-access-log", "--no-proxy-headers", "--log-level", "warning"]
    proc = subprocess.Popen(command, env=env, cwd=REPO, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    wait_ready(proc, url, app)
    return proc, url


def stop_server(proc: Any) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def load(url: str, *args: str, pid: int | None = None) -> dict[str, Any]:
    """Run the load generator as its own process and read its one JSON line."""
    before = cpu_seconds(pid) if pid else 0.0
    out = subprocess.run(
        [sys.executable, str(HERE / "loadgen.py"), f"{url}/v1/events", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    result: dict[str, Any] = orjson.loads(out.stdout.strip().splitlines()[-1])
    if pid:
        used = cpu_seconds(pid) - before
        result["cpu_ms_per_req"] = used * 1000 / max(1, result["requests"])
    result["loadavg"] = os.getloadavg()[0]
    return result


def scenarios(url: str, scale: float, pid: int, *extra: str) -> dict[str, dict[str, Any]]:
    """Batched and single-event throughput, and latency at a fixed 1,000 requests/s.

    3,000 batches: at 1,600 the bare endpoint finished in half a second, too short to trust.
    """
    batch = load(
        url, "--requests", str(int(3000 * scale)), "--per-request", str(BATCH), *extra, pid=pid
    )
    single = load(url, "--requests", str(int(8000 * scale)), "--concurrency", "32", *extra, pid=pid)
    fixed = load(url, "--requests", str(int(5000 * scale)), "--rate", "1000", *extra, pid=pid)
    return {"batched": batch, "single": single, "fixed_1000rps": fixed}


async def raw_kafka(bootstrap: str, topic: str, batches: int) -> float:
    """Events/s of a bare aiokafka producer with the collector's settings and messages.

    One message per request of ``BATCH`` events, as the collector sends one visitor's batch.
    """
    value = (
        RawBatch(
            events=[Event.model_validate(make_event()) for _ in range(BATCH)],
            facts=RequestFacts(ip="192.0.2.10", user_agent="bench"),
            received_at=datetime.now(UTC),
        )
        .model_dump_json()
        .encode()
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=2
    )
    await producer.start()
    gate = asyncio.Semaphore(64)

    async def batch() -> None:
        async with gate:
            await (await producer.send(topic, value=value, key=uuid.uuid4().bytes))

    try:
        started = time.perf_counter()
        await asyncio.gather(*(batch() for _ in range(batches)))
        return batches * BATCH / (time.perf_counter() - started)
    finally:
        await producer.stop()


def report(results: dict[str, dict[str, dict[str, Any]]], kafka_eps: float) -> None:
    print(
        f"\n{'server':10} {'scenario':14} {'events/s':>10} {'req/s':>8} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'cpu ms/req':>10} {'load':>5}  statuses"
    )
    for server, runs in results.items():
        for name, r in runs.items():
            print(
                f"{server:10} {name:14} {r['events_per_s']:10,.0f} {r['req_per_s']:8,.0f} "
                f"{r['p50_ms']:8.1f} {r['p99_ms']:8.1f} {r['cpu_ms_per_req']:10.3f} "
                f"{r['loadavg']:5.1f}  {r['statuses']}"
            )
    print(f"{'aiokafka':10} {'raw produce':14} {kafka_eps:10,.0f}")
    col = results["collector"]
    print("\nratios (events/s; in brackets bare CPU per request / collector CPU per request)")
    for baseline in ("bare", "bare-typed"):
        for name in ("batched", "single"):
            base = results[baseline][name]
            ratio = col[name]["events_per_s"] / base["events_per_s"]
            cpu = base["cpu_ms_per_req"] / col[name]["cpu_ms_per_req"]
            print(f"  collector/{baseline:10} {name:8} {ratio:6.1%}  [{cpu:6.1%}]")
    print(f"  collector batched / raw aiokafka {col['batched']['events_per_s'] / kafka_eps:6.1%}")
    print(
        f"  targets: batched >= 30% of bare in this run; "
        f"p99 < 50 ms and no 503 at the fixed rate (got {col['fixed_1000rps']['p99_ms']:.1f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 2, help="N (default: one per core)"
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiply request counts")
    args = parser.parse_args()
    cal = measure()
    print(cal.line(), flush=True)
    common = CommonSettings(environment="test")  # for its addresses; the collector gets keys below
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    topics = Topics(prefix)
    ensure_topics(common.kafka_bootstrap, plan(topics, 2, 1))
    env = {
        **os.environ,
        "CONSENTSTREAM_TOPIC_PREFIX": prefix,
        "CONSENTSTREAM_RATE_LIMIT_PER_SECOND": "0",
        "CONSENTSTREAM_DEDUPE_TTL_SECONDS": "600",
        "CONSENTSTREAM_LOG_LEVEL": "WARNING",
        # throwaway keys: nothing a benchmark stores is kept
        "CONSENTSTREAM_PSEUDONYM_KEY": secrets.token_urlsafe(32),
        "CONSENTSTREAM_RECEIPT_KEY": secrets.token_urlsafe(32),
        "CONSENTSTREAM_AUDIT_KEY": secrets.token_urlsafe(32),
        "CONSENTSTREAM_MASTER_KEY": secrets.token_urlsafe(32),
    }
    n = args.workers
    counts = sorted({1, n})
    runs: dict[str, dict[str, dict[str, Any]]] = {}
    # "bare" is the ratio's baseline; "bare-typed" (FastAPI-declared body, JSON only) is context.
    for server, app, extra in (
        ("bare", "collector.bare_app:create_app", ()),
        ("bare-typed", "collector.bare_app:create_typed_app", ("--json",)),
    ):
        proc, url = start_server(app, n, env, HERE.parent)
        try:
            load(url, "--requests", "200", "--per-request", str(BATCH), *extra)  # warm up
            runs[f"{server}-{n}"] = scenarios(url, args.scale, proc.pid, *extra)
            if server == "bare" and n > 1:
                stop_server(proc)
                proc, url = start_server(app, 1, env, HERE.parent)
                load(url, "--requests", "200", "--per-request", str(BATCH))
                runs["bare-1"] = {"batched": batched(url, args.scale, proc.pid)}
        finally:
            stop_server(proc)
    top: tuple[float, dict[str, Any]] = (0.0, {})
    for count in reversed(counts):  # the collector as deployed: N processes, then one
        proc, url = deployed.start(count, env, free_port())
        try:
            load(url, "--requests", "200", "--per-request", str(BATCH))  # warm up
            if count == n:
                runs[f"collector-{n}"] = scenarios(url, args.scale, proc.pid)
                print(f"largest sustained rate, {n} processes:", flush=True)
                top = deployed.largest_rate(load, url, proc.pid, max(2.0, 5 * args.scale))
            else:
                fixed = load(url, "--requests", str(int(5000 * args.scale)), "--rate", "1000")
                runs["collector-1"] = {"batched": batched(url, args.scale, proc.pid)}
                runs["collector-1"]["fixed_1000rps"] = fixed | {"cpu_ms_per_req": 0.0}
        finally:
            stop_server(proc)
    kafka_eps = asyncio.run(raw_kafka(common.kafka_bootstrap, topics.raw_events, 2000))
    print(f"processes 1 and {n}, topics={prefix}* cores={os.cpu_count()}")
    results = {
        "bare": runs[f"bare-{n}"],
        "bare-typed": runs[f"bare-typed-{n}"],
        "collector": runs[f"collector-{n}"],
    }
    if n > 1:
        results |= {"bare-1": runs["bare-1"], "collector-1": runs["collector-1"]}
    report(results, kafka_eps)
    rate = runs[f"collector-{n}"]["batched"]["events_per_s"]
    print(f"  collector batched per calibration unit: {cal.per_unit(rate):,.0f} events")
    record("collector", cal, deployed.figures(runs, (counts[0], counts[-1]), top, cal))


def batched(url: str, scale: float, pid: int) -> dict[str, Any]:
    """50-event batches, closed loop: the throughput the ratio to bare is judged on."""
    return load(url, "--requests", str(int(3000 * scale)), "--per-request", str(BATCH), pid=pid)


if __name__ == "__main__":
    main()
