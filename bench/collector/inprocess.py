"""CPU per request of the collector app in-process: no HTTP server, real Redis and Kafka.

``.venv/bin/python bench/collector/inprocess.py [--requests 2000] [--events 50] [--profile]``

Drives the ASGI app directly (a scope, a receive and a send callable, ``concurrency``
requests at a time) after its lifespan opened the real Kafka producer and Redis clients, and
prints the process CPU time per request (user + system), so what the code costs is measured
without uvicorn, the load generator or the network in the figure. Each request carries a
fresh visitor cookie and fresh event ids, as the HTTP bench sends them. ``--profile`` prints
cProfile's top functions by own time instead of timing.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import secrets
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO)]

from bench.calibration import measure  # noqa: E402
from bench.collector.loadgen import make_event  # noqa: E402


def _env() -> None:
    os.environ.update(
        {
            "CONSENTSTREAM_TOPIC_PREFIX": f"inproc-{uuid.uuid4().hex[:8]}.",
            "CONSENTSTREAM_RATE_LIMIT_PER_SECOND": "0",
            "CONSENTSTREAM_DEDUPE_TTL_SECONDS": "600",
            "CONSENTSTREAM_LOG_LEVEL": "WARNING",
            "CONSENTSTREAM_ENVIRONMENT": "test",  # throwaway keys for what is not set here
            "CONSENTSTREAM_PSEUDONYM_KEY": secrets.token_urlsafe(32),
            "CONSENTSTREAM_RECEIPT_KEY": secrets.token_urlsafe(32),
        }
    )


def bodies(requests: int, per_request: int) -> list[tuple[bytes, bytes]]:
    """Every (body, cookie) up front: fresh event ids and a fresh visitor per request."""
    out = []
    for _ in range(requests):
        events = [make_event() for _ in range(per_request)]
        doc: Any = events[0] if per_request == 1 else {"events": events}
        out.append((orjson.dumps(doc), f"cs_vid={secrets.token_urlsafe(16)}".encode()))
    return out


async def call(app: Any, body: bytes, cookie: bytes) -> int:
    """One POST /v1/events through the ASGI app; its status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/events",
        "raw_path": b"/v1/events",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8080"),
            (b"content-type", b"text/plain"),
            (b"content-length", str(len(body)).encode()),
            (b"cookie", cookie),
        ],
        "client": ("192.0.2.10", 50000),
        "server": ("127.0.0.1", 8080),
        "state": {},
    }
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def run(requests: int, per_request: int, concurrency: int, profile: bool) -> None:
    """Warm up, then time (or profile) ``requests`` calls."""
    from consentstream.kafka_topics import ensure_topics, plan
    from consentstream.topics import Topics
    from services.collector.app import create_app
    from services.collector.config import CollectorSettings

    settings = CollectorSettings()
    ensure_topics(settings.kafka_bootstrap, plan(Topics(settings.topic_prefix), 2, 1))
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        work = bodies(requests + 200, per_request)
        gate = asyncio.Semaphore(concurrency)

        async def one(item: tuple[bytes, bytes]) -> int:
            async with gate:
                return await call(app, *item)

        warm = await asyncio.gather(*(one(b) for b in work[:200]))
        print(f"warm-up statuses {sorted(set(warm))}")
        profiler = cProfile.Profile() if profile else None
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        statuses = await asyncio.gather(*(one(b) for b in work[200:]))
        if profiler:
            profiler.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(
        f"{per_request}-event requests: {cpu * 1e6 / requests:,.0f} µs CPU per request,"
        f" {requests / wall:,.0f} req/s, load {os.getloadavg()[0]:.1f},"
        f" statuses {sorted(set(statuses))}"
    )
    if profiler:
        pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "tottime")).print_stats(35)


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    _env()
    print(measure().line(), flush=True)
    asyncio.run(run(args.requests, args.events, args.concurrency, args.profile))


if __name__ == "__main__":
    main()
