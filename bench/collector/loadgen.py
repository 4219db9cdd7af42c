"""Load generator, run as its own process: POSTs pre-built bodies and prints one JSON line.

``closed``: ``concurrency`` connections send as fast as answers come back (throughput).
``open``: a fixed request rate, latency measured from the scheduled send time, so a stall
is not hidden by the generator waiting for it (coordinated omission).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import time
import uuid
from collections import Counter
from datetime import UTC, datetime

import aiohttp
import orjson

# Event times are "now" at start-up: the collector refuses times outside its window.
TS = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def make_event() -> dict[str, object]:
    """A realistic pageview as the snippet sends it (documentation values only): no visitor
    id, the collector's cookie says whose it is."""
    return {
        "event_id": str(uuid.uuid4()),
        "type": "pageview",
        "ts": TS,
        "consent_id": uuid.uuid4().hex,
        "page": {
            "url": "https://www.example.com/tariffs/electricity?utm_source=bench",
            "title": "Electricity tariffs",
            "referrer": "https://search.example.com/",
        },
        "browser": {
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0",
            "language": "en-GB",
            "screen": "1920x1080",
            "timezone": "Europe/London",
        },
        "props": {"section": "tariffs", "step": 1},
    }


Request = tuple[bytes, dict[str, str]]  # a body and its headers (the browser's visitor cookie)


def make_bodies(requests: int, per_request: int) -> list[Request]:
    """Every request up front, each event with a fresh id (no duplicates), outside the timing.

    A request comes from one browser: it carries that browser's visitor cookie (an id shaped
    as the collector mints them), as the snippet's requests do.
    """
    if per_request == 1:
        return [(orjson.dumps(make_event()), _browser()) for _ in range(requests)]
    batch = [
        {"events": [make_event() for _ in range(per_request)], "sent_at": TS}
        for _ in range(requests)
    ]
    return [(orjson.dumps(body), _browser()) for body in batch]


def _browser() -> dict[str, str]:
    return {**CONTENT_TYPE, "Cookie": f"cs_vid={secrets.token_urlsafe(16)}"}


CONTENT_TYPE = {"Content-Type": "text/plain"}  # what sendBeacon sends; --json to change


FAILED = 599  # no HTTP answer at all (refused or dropped connection): counted, not raised


async def _post(session: aiohttp.ClientSession, url: str, request: Request) -> int:
    body, headers = request
    try:
        async with session.post(url, data=body, headers=headers) as answer:
            await answer.read()
            return answer.status
    except (TimeoutError, aiohttp.ClientError):
        # A server past its limit on an overloaded box drops connections; that is a result.
        return FAILED


async def closed_loop(
    url: str, bodies: list[Request], concurrency: int, deadline: float
) -> tuple[list[float], Counter[int], float]:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    queue = iter(bodies)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            for body in queue:
                if time.monotonic() > deadline:
                    return
                started = time.perf_counter()
                statuses[await _post(session, url, body)] += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, statuses, time.perf_counter() - started


async def open_loop(
    url: str, bodies: list[Request], rate: float
) -> tuple[list[float], Counter[int], float]:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    connector = aiohttp.TCPConnector(limit=512)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(body: Request, scheduled: float) -> None:
            statuses[await _post(session, url, body)] += 1
            latencies.append(time.perf_counter() - scheduled)

        started = time.perf_counter()
        tasks = []
        for i, body in enumerate(bodies):
            scheduled = started + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(body, scheduled)))
        await asyncio.gather(*tasks)
        return latencies, statuses, time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile in milliseconds."""
    if len(values) < 2:
        return values[0] * 1000 if values else float("nan")
    return statistics.quantiles(values, n=1000)[int(q * 10) - 1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--per-request", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=0.0, help="open loop at this rate")
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--json", action="store_true", help="send application/json")
    args = parser.parse_args()
    if args.json:
        CONTENT_TYPE["Content-Type"] = "application/json"
    bodies = make_bodies(args.requests, args.per_request)
    if args.rate:
        run = open_loop(args.url, bodies, args.rate)
    else:
        run = closed_loop(args.url, bodies, args.concurrency, time.monotonic() + args.max_seconds)
    latencies, statuses, seconds = asyncio.run(run)
    ok = statuses.get(202, 0)
    print(
        orjson.dumps(
            {
                "requests": len(latencies),
                "statuses": {str(k): v for k, v in statuses.items()},
                "seconds": seconds,
                "req_per_s": len(latencies) / seconds,
                "events_per_s": ok * args.per_request / seconds,
                "p50_ms": percentile(latencies, 50),
                "p99_ms": percentile(latencies, 99),
            }
        ).decode()
    )


if __name__ == "__main__":
    main()
