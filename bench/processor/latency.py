"""End-to-end latency: collector POST → row queryable in ClickHouse, at a steady rate.

The collector (``python -m services.collector``) and one worker run as processes; a single
asyncio loop posts 50-event batches on a fixed schedule and, beside it, polls ClickHouse for
the event ids that became visible. Latency of an event = first poll that saw it - its batch's
scheduled send time (so a slow collector counts against it). Poll interval: 50 ms.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from consentstream.storage.base import Storage

BATCH = 50
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(module: str, env: dict[str, str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
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
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def batch(visitors: list[str], n: int) -> tuple[list[str], dict[str, Any], dict[str, str]]:
    """Batch ``n``: one browser's events and its visitor cookie (every third batch anonymous)."""
    ids = [str(uuid.uuid4()) for _ in range(BATCH)]
    now = datetime.now(UTC).isoformat()
    visitor = visitors[n % len(visitors)] if n % 3 else None
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
    cookie = {"Cookie": f"cs_vid={visitor}"} if visitor else {}
    return ids, {"events": events, "sent_at": now}, cookie


async def _load(url: str, rate: float, seconds: float, sent: dict[str, float]) -> int:
    visitors = [f"latency_visitor_{i:04d}" for i in range(200)]
    interval = BATCH / rate
    begin = time.time()
    failures = 0
    async with httpx.AsyncClient(timeout=10) as client:

        async def post(n: int, due: float) -> None:
            nonlocal failures
            ids, body, cookie = batch(visitors, n)
            for event_id in ids:
                sent[event_id] = due
            response = await client.post(f"{url}/v1/events", json=body, headers=cookie)
            if response.status_code != 202:
                failures += 1
                for event_id in ids:
                    sent.pop(event_id, None)

        tasks = []
        for n in range(int(seconds * rate / BATCH)):
            due = begin + n * interval
            await asyncio.sleep(max(0.0, due - time.time()))
            tasks.append(asyncio.create_task(post(n, due)))
        await asyncio.gather(*tasks)
    return failures


async def _poll(
    storage: Storage, sent: dict[str, float], seen: dict[str, float], stop_at: list[float]
) -> None:
    """Record when each event id first became visible; only rows from the oldest unseen on."""
    statement = (
        f"SELECT toString(event_id) AS id FROM {storage.database}.usage_events"
        " WHERE received_at >= %(since)s"
    )
    while time.time() < stop_at[0]:
        pending = [t for k, t in list(sent.items()) if k not in seen]
        since = datetime.fromtimestamp((min(pending) if pending else time.time()) - 2, UTC)
        rows = await asyncio.to_thread(storage.query, statement, {"since": since})
        now = time.time()
        for row in rows:
            seen.setdefault(row["id"], now)
        await asyncio.sleep(0.05)


async def measure(url: str, storage: Storage, rate: float, seconds: float) -> dict[str, float]:
    """Post at ``rate`` events/s for ``seconds``; p50/p95/max latency and what was lost."""
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    stop_at = [float("inf")]
    poller = asyncio.create_task(_poll(storage, sent, seen, stop_at))
    failures = await _load(url, rate, seconds, sent)
    stop_at[0] = time.time() + 15
    while time.time() < stop_at[0] and not all(k in seen for k in sent):
        await asyncio.sleep(0.2)
    stop_at[0] = 0
    await poller
    latencies = sorted(seen[k] - t for k, t in sent.items() if k in seen)
    if not latencies:
        return {"events": len(sent), "missing": len(sent), "failed_batches": failures}

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))]

    return {
        "events": len(sent),
        "missing": len(sent) - len(latencies),
        "failed_batches": failures,
        "p50": pct(0.50),
        "p95": pct(0.95),
        "max": latencies[-1],
    }
