"""Stream processor benchmark, one command: ``.venv/bin/python bench/processor/run.py``.

Pre-loads N raw events on a raw topic of its own as the collector produces them: one
``RawBatch`` message per request of ``--per-request`` events from one visitor (a third of the
requests anonymous, the rest from visitors who granted analytics), then measures, in the same
run and against the same ClickHouse:

- baseline: aiokafka consumes the topic in batches and inserts each batch into a copy of the
  ``usage_events`` table with clickhouse-driver (JSON parse + a fixed row: no pipeline);
- the worker: ``python -m streams`` as deployed (Faust, pipeline, Redis consent histories,
  batched inserts), timed from its first take (read from its /metrics) to the last stored row;
  start-up and the events/s from launch are reported apart.

Prints events/s of each and the ratio (target: ≥ 60%), then end to end through the collector
with sealed messages (``e2e.py``): the capacity of that stack on this box, measured in the same
run by a saturating ramp, and the latency at half of it (target p95 < 2 s).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO), str(HERE.parent)]

from bench.calibration import measure, record  # noqa: E402
from bench.processor import e2e, latency  # noqa: E402
from bench.processor.processes import n_process_run  # noqa: E402
from bench.proctree import cpu_seconds  # noqa: E402
from bench.serving import wait_ready  # noqa: E402
from consentstream.identity import pseudonymize  # noqa: E402
from consentstream.preparation import prepare_pipeline  # noqa: E402
from consentstream.storage import open_storage, sql  # noqa: E402
from consentstream.storage.base import Storage  # noqa: E402
from schemas.events import ConsentChoices, Event  # noqa: E402
from schemas.messages import ConsentDecision, RawBatch, RequestFacts  # noqa: E402
from streams.config import WorkerSettings  # noqa: E402

UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36"
)
IPS = ("192.0.2.10", "198.51.100.20", "203.0.113.30", "2001:db8::7")


def settings_for(run: str, partitions: int) -> tuple[WorkerSettings, dict[str, str]]:
    base = WorkerSettings(environment="test")  # for its addresses; the run gets real keys below
    server = base.clickhouse_url.rsplit("/", 1)[0]
    env = {
        "CONSENTSTREAM_TOPIC_PREFIX": f"bench{run}.",
        "CONSENTSTREAM_CLICKHOUSE_URL": f"{server}/cs_bench_{run}",
        "CONSENTSTREAM_WORKER_APP_ID": f"cs-bench-{run}",
        "CONSENTSTREAM_WORKER_DATA_DIR": f"/tmp/cs-bench-{run}",
        "CONSENTSTREAM_PSEUDONYM_KEY": secrets.token_urlsafe(32),
        "CONSENTSTREAM_RECEIPT_KEY": secrets.token_urlsafe(32),
        "CONSENTSTREAM_RECEIPT_SIGNING_KEY": secrets.token_urlsafe(32),
        "CONSENTSTREAM_AUDIT_KEY": secrets.token_urlsafe(32),
        "CONSENTSTREAM_MASTER_KEY": secrets.token_urlsafe(32),
        "CONSENTSTREAM_TOPIC_PARTITIONS": str(partitions),
        "CONSENTSTREAM_WORKER_METRICS_PORT": "0",
        "CONSENTSTREAM_LOG_LEVEL": "WARNING",
        # One process each unless a run asks for more (the N-process worker run below).
        "CONSENTSTREAM_WORKER_PROCESSES": "1",
        "CONSENTSTREAM_COLLECTOR_PROCESSES": "1",
    }
    prefix = "CONSENTSTREAM_"
    values = {k[len(prefix) :].lower(): v for k, v in env.items()}
    return WorkerSettings.model_validate(values), {**os.environ, **env}


def raw_batches(n: int, visitors: list[str], per_request: int) -> list[RawBatch]:
    """N events in requests of ``per_request``, each from one visitor (every third anonymous)."""
    now = datetime.now(UTC)
    out = []
    for r, start in enumerate(range(0, n, per_request)):
        visitor = visitors[r % len(visitors)] if r % 3 else None
        events = [
            Event.model_validate(
                {
                    "event_id": str(uuid.uuid4()),
                    "type": "pageview",
                    "ts": (now - timedelta(milliseconds=n - i)).isoformat(),
                    "visitor_id": visitor,
                    "page": {
                        "url": f"https://example.com/tariffs/{i % 40}?utm_source=news&id={i}",
                        "title": "Tariffs",
                        "referrer": "https://search.example.com/?q=power",
                    },
                    "browser": {"user_agent": UA, "language": "en-GB", "screen": "1920x1080"},
                    "props": {"plan": "basic"},
                }
            )
            for i in range(start, min(n, start + per_request))
        ]
        facts = RequestFacts(ip=IPS[r % len(IPS)], user_agent=UA)
        out.append(RawBatch(events=events, facts=facts, received_at=now))
    return out


async def preload(s: WorkerSettings, batches: list[RawBatch], visitors: list[str]) -> None:
    key = s.pseudonym_key.get_secret_value()
    producer = AIOKafkaProducer(
        bootstrap_servers=s.kafka_bootstrap, acks="all", linger_ms=20, max_batch_size=512 * 1024
    )
    await producer.start()
    try:
        for v in visitors:
            decision = ConsentDecision(
                consent_id=uuid.uuid4().hex,
                visitor_id=v,
                choices=ConsentChoices(analytics=True, marketing=False, preferences=False),
                policy_version="bench",
                policy_hash="bench",
                banner_hash="bench",
                source="bench",
                recorded_at=datetime.now(UTC) - timedelta(days=1),
                gpc=False,
                dnt=False,
                gpc_applied=False,
            )
            await producer.send(
                s.topic_prefix + "consent",
                key=pseudonymize(v, key).encode(),
                value=decision.model_dump_json().encode(),
            )
        pending = []
        for batch in batches:
            first = batch.events[0]
            vid = first.visitor_id
            k = pseudonymize(vid, key).encode() if vid else first.event_id.bytes
            pending.append(
                await producer.send(
                    s.topic_prefix + "events.raw", key=k, value=batch.model_dump_json().encode()
                )
            )
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def template_row() -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "event_id": uuid.uuid4(),
        "type": "pageview",
        "ts": now,
        "client_ts": now,
        "received_at": now,
        "visitor_key": "",
        "consent_id": "",
        "purposes": ["necessary"],
        "policy_version": "",
        "ip_prefix": "",
        "page_path": "/",
        "page_url": "",
        "page_title": "",
        "referrer_host": "",
        "browser_family": "",
        "browser_version": "",
        "os_family": "",
        "device_class": "",
        "language": "",
        "screen": "",
        "timezone": "",
        "props": "{}",
        "gpc": False,
        "dnt": False,
        "schema_version": 1,
        "anon_hash": "",
    }


async def baseline(s: WorkerSettings, storage: Storage, n: int, batch: int) -> float:
    """aiokafka consume + clickhouse-driver insert, no pipeline: events/s.

    ``batch`` is in messages: each insert holds the events of that many messages.
    """
    consumer = AIOKafkaConsumer(
        s.topic_prefix + "events.raw",
        bootstrap_servers=s.kafka_bootstrap,
        group_id=f"{s.worker_app_id}-baseline",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    done = 0
    base = template_row()
    started = 0.0
    try:
        while done < n:
            records = await consumer.getmany(timeout_ms=1000, max_records=batch)
            rows: list[dict[str, Any]] = []
            for messages in records.values():
                for m in messages:
                    body = orjson.loads(m.value)
                    rows.extend(
                        {
                            **base,
                            "event_id": uuid.UUID(event["event_id"]),
                            "page_path": event["page"]["url"][:64],
                        }
                        for event in body["events"]
                    )
            if rows:
                started = started or time.perf_counter()
                await asyncio.to_thread(storage.insert, sql.USAGE_EVENTS, rows)
                await consumer.commit()
                done += len(rows)
    finally:
        await consumer.stop()
    return n / (time.perf_counter() - started)


def count(storage: Storage) -> int:
    return int(storage.query(f"SELECT count() AS n FROM {storage.database}.usage_events")[0]["n"])


def messages_taken(metrics_url: str) -> float:
    """The worker's ``messages_taken`` counter (0 until its metrics server answers)."""
    try:
        with urllib.request.urlopen(metrics_url, timeout=0.5) as response:
            text = response.read().decode()
    except OSError:
        return 0.0
    found = re.search(r"^consentstream_worker_messages_taken_total (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


@dataclass(frozen=True)
class WorkerRun:
    """One timed worker run over the pre-loaded topic."""

    rate: float
    """Events/s from the first take handed to the agent to the last row stored."""
    from_launch: float
    """Events/s from process launch (start-up, Kafka join and the first fetch included)."""
    startup: float
    """Seconds from launch to the first take."""
    stored: int
    cpu_per_event: float
    """The worker's CPU seconds per event over the timed part: its cost whatever the load."""


def run_worker(
    env: dict[str, str], storage: Storage, n: int, ready: Callable[[], None] | None = None
) -> WorkerRun:
    """Time ``python -m streams`` over the pre-loaded topic.

    The clock starts when the worker's first ``stream.take`` reaches the agent (its
    ``messages_taken`` counter, read from /metrics), not at the first stored row: a take holds
    up to ``sink_batch_size`` messages, so with a large take the first row lands only after the
    whole first take was processed and timing from it measured little but the last inserts.
    What the first take's fetch cost (at most ``sink_flush_seconds``) is left out, as the
    bare-Faust figure leaves out its first take; the from-launch figure includes everything.
    ``ready``, when given, runs once the process started (it may wait for it, and fill the topic).
    """
    port = latency.free_port()
    env = {**env, "CONSENTSTREAM_WORKER_METRICS_PORT": str(port)}
    metrics_url = f"http://127.0.0.1:{port}/metrics"
    launched = time.perf_counter()
    log = Path(env["CONSENTSTREAM_WORKER_DATA_DIR"] + ".log")
    with log.open("wb") as out:  # Faust draws a spinner on a terminal
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams"],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        if ready is not None:
            ready()
        first_take = cpu_at_take = 0.0
        while not first_take or (stored := count(storage)) < n:
            if proc.poll() is not None:
                raise SystemExit(f"worker exited:\n{log.read_text(errors='replace')[-3000:]}")
            if not first_take and messages_taken(metrics_url) > 0:
                first_take, cpu_at_take = time.perf_counter(), cpu_seconds(proc.pid)
            time.sleep(0.02 if not first_take else 0.05)
        finished = time.perf_counter()
        cpu = cpu_seconds(proc.pid) - cpu_at_take
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:  # Faust can wait on an unacked message for ever
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    return WorkerRun(
        rate=n / max(finished - first_take, 1e-9),
        from_launch=n / (finished - launched),
        startup=first_take - launched,
        stored=stored,
        cpu_per_event=cpu / n,
    )


def bare_faust(s: WorkerSettings, messages: int) -> float:
    """A Faust agent that only counts ``stream.take`` batches over the same topic: messages/s."""
    env = {
        **os.environ,
        "BENCH_TOPIC": s.topic_prefix + "events.raw",
        "BENCH_MESSAGES": str(messages),
        "BENCH_APP_ID": f"{s.worker_app_id}-bare",
        "BENCH_KAFKA": s.kafka_bootstrap,
    }
    script = str(HERE / "bare_faust.py")
    out = subprocess.run(
        [sys.executable, script, "worker", "-l", "warn"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    found = re.search(r"FAUST (\d+)", out.stdout + out.stderr)  # Faust logs our stdout
    if found:
        return float(found.group(1))
    raise SystemExit(f"bare Faust run failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")


def run_e2e(
    rate: float,
    seconds: float,
    *,
    repo: Path | None = None,
    ramp_start: float = 1000,
    plaintext: float | None = None,
) -> dict[str, float]:
    """Collector + worker as processes (code of ``repo``, default this checkout), sealed
    messages as deployed: capacity through the collector, then latency at half of it (or at
    ``rate``); see ``e2e.py``. Prints and returns the steady phase's figures."""
    code = (repo or REPO).resolve()
    run = secrets.token_hex(3)
    s, env = settings_for(run, 4)
    prepare_pipeline(s)
    port, metrics = latency.free_port(), latency.free_port()
    env = {
        **env,
        "PYTHONPATH": str(code),
        "CONSENTSTREAM_COLLECTOR_PORT": str(port),
        "CONSENTSTREAM_WORKER_METRICS_PORT": str(metrics),
        "CONSENTSTREAM_RATE_LIMIT_PER_SECOND": "0",  # all load comes from one address
    }
    storage = open_storage(s.clickhouse_url)
    logs = Path(f"/tmp/cs-bench-{run}-logs")
    logs.mkdir(parents=True, exist_ok=True)
    procs = {
        "worker": latency.start("streams", env, logs / "worker.log", code),
        "collector": latency.start("services.collector", env, logs / "collector.log", code),
    }
    url = f"http://127.0.0.1:{port}"
    stack = e2e.Stack(
        url,
        f"http://127.0.0.1:{metrics}/metrics",
        s.topic_prefix + "events.raw",
        s.kafka_bootstrap,
        {name: proc.pid for name, proc in procs.items()},
    )
    print(f"e2e       code from {code} (logs in {logs})", flush=True)
    try:
        wait_ready(procs["collector"], url, "the collector", log=logs / "collector.log")
        found = asyncio.run(e2e.measure(stack, storage, seconds, rate, ramp_start))
    finally:
        for proc in procs.values():
            latency.stop(proc)
        storage.command(sql.statement(sql.DROP_DATABASE, storage.database))
        storage.close()
    return e2e.report(found, plaintext)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--per-request", type=int, default=50, help="events per raw message")
    parser.add_argument(
        "--rate",
        type=float,
        default=0,
        help="latency run: events/s (0: half the capacity measured through the collector)",
    )
    parser.add_argument("--latency-seconds", type=float, default=10, help="0 skips it")
    args = parser.parse_args()
    cal = measure()
    print(cal.line(), flush=True)
    run = secrets.token_hex(3)
    s, env = settings_for(run, args.partitions)
    prepare_pipeline(s)
    base_url = s.clickhouse_url + "_base"
    storage, base_storage = open_storage(s.clickhouse_url), open_storage(base_url)
    base_storage.migrate()
    visitors = [f"bench_visitor_{i:04d}" for i in range(500)]
    try:
        batches = raw_batches(args.events, visitors, args.per_request)
        t = time.perf_counter()
        asyncio.run(preload(s, batches, visitors))
        print(
            f"preloaded {args.events:,} events in {len(batches):,} messages"
            f" in {time.perf_counter() - t:.1f}s",
            flush=True,
        )
        per_insert = max(1, s.sink_batch_size // args.per_request)
        base_rate = asyncio.run(baseline(s, base_storage, args.events, per_insert))
        print(f"baseline  aiokafka + clickhouse insert   {base_rate:>10,.0f} events/s", flush=True)
        messages_rate = bare_faust(s, len(batches))
        faust_rate = messages_rate * args.events / len(batches)
        print(
            f"faust     stream.take, no processing     {faust_rate:>10,.0f} events/s"
            f"   ({messages_rate:,.0f} messages/s)",
            flush=True,
        )
        worker = run_worker(env, storage, args.events)
        rate = worker.rate
        print(
            f"worker    full pipeline (one process)    {rate:>10,.0f} events/s"
            f"   (from its first take; start-up {worker.startup:.1f}s,"
            f" {worker.from_launch:,.0f} events/s from launch, {worker.stored:,} rows)"
        )
        print(
            f"worker    CPU per event                  {worker.cpu_per_event * 1e6:>10.1f} µs"
            f"   (= {1 / max(worker.cpu_per_event, 1e-12):,.0f} events/s on a core of its own)"
        )
        print(f"ratio     worker / baseline              {rate / base_rate:>10.1%}")
        if faust_rate:  # a small run can end before bare Faust's timed window opens
            print(f"ratio     worker / bare Faust            {rate / faust_rate:>10.1%}")
        print(f"worker    per calibration unit           {cal.per_unit(rate):>10,.0f} events")
        print("targets   worker ≥ 60% of the baseline measured in this run", flush=True)
        many = n_process_run(
            lambda: settings_for(secrets.token_hex(3), args.partitions),
            lambda fresh: asyncio.run(preload(fresh, batches, visitors)),
            args.events,
            run_worker,
        )
        print(
            f"worker    {many.processes} processes                    {many.run.rate:>10,.0f}"
            f" events/s   ({many.run.rate / rate:.2f}x one process;"
            f" {many.run.cpu_per_event * 1e6:.1f} µs CPU per event)",
            flush=True,
        )
    finally:
        for store in (storage, base_storage):
            store.command(sql.statement(sql.DROP_DATABASE, store.database))
            store.close()
    results = [
        *many.figures(base_rate, cal),
        {
            "what": "stream worker, one process",
            "value": rate,
            "unit": "events/s",
            "per_unit": cal.per_unit(rate),
            "baseline": base_rate,
            "target": ">= 60% of raw consume + insert",
            "met": rate >= 0.6 * base_rate,
        },
        {
            "what": "stream worker, CPU per event",
            "value": worker.cpu_per_event * 1e6,
            "unit": "µs",
            "per_unit": worker.cpu_per_event / cal.loop_s * 1e6,
        },
    ]
    if args.latency_seconds > 0:
        # Half the capacity measured in the same run through the collector with sealed
        # messages (e2e.py), unless a rate was given: the target holds for whatever the box
        # can do, in the conditions it is judged in. The plaintext one-process figure above
        # is printed beside it for context only.
        found = run_e2e(args.rate, args.latency_seconds, plaintext=rate)
        if "p95" in found:
            results.append(
                {
                    "what": f"end to end p95 at {found['rate']:,.0f} events/s",
                    "value": found["p95"],
                    "unit": "s",
                    "target": "< 2 s at half the worker's capacity",
                    "met": found["p95"] < 2 and not found.get("missing"),
                }
            )
    record("processor", cal, results)


if __name__ == "__main__":
    main()
