"""The marketing dashboard in Chromium: navigation to every panel drawn (target: < 1 s).

Used by ``bench.api.dashboard``: starts a real API (``python -m services.api``) on the bench
database with topics and rate-limit names of its own, makes a marketing key with the CLI, signs
in through the page as a marketer does, then opens ``/ui/`` for each range several times. One
view counts from the navigation's start (the page's ``performance.now()`` origin) to the moment
every panel's table is in the page and both charts are drawn by the page's script.
"""

from __future__ import annotations

import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

from bench.serving import free_port, wait_ready
from services.api.ui.panels import DIMENSIONS, Query

CHROMIUM = os.environ.get("CONSENTSTREAM_CHROMIUM", "/usr/bin/chromium")
TARGET_MS = 1000.0
# Every panel's table, and the two charts drawn by the page's script.
TABLES = ["traffic", *DIMENSIONS, "consent", "versions"]
DRAWN = "() => document.querySelectorAll('[data-chart] .uplot').length === 2 && " + " && ".join(
    f"!!document.getElementById('{t}')" for t in TABLES
)


@contextmanager
def running_api(storage_url: str) -> Iterator[tuple[str, str]]:
    """An API on the bench database (its warmer off: the bench warmed it); URL and a key."""
    port, run = free_port(), secrets.token_hex(4)
    env = {
        **os.environ,
        "CONSENTSTREAM_ENVIRONMENT": "test",  # throwaway keys: bench data only
        "CONSENTSTREAM_CLICKHOUSE_URL": storage_url,
        "CONSENTSTREAM_API_PORT": str(port),
        "CONSENTSTREAM_TOPIC_PREFIX": f"benchdash{run}.",
        "CONSENTSTREAM_RATE_LIMIT_NAMESPACE": f"benchdash-{run}:",
        "CONSENTSTREAM_USAGE_WARM_SECONDS": "0",
        "CONSENTSTREAM_RETENTION_INTERVAL_HOURS": "0",
    }
    cli = [sys.executable, "-m", "ops.cli"]
    made = subprocess.run(
        [*cli, "keys", "create", "--role", "marketing"], env=env, capture_output=True, text=True
    )
    if made.returncode:
        raise RuntimeError(f"could not make a key: {made.stderr[-2000:]}")
    log = Path(tempfile.mkstemp(prefix="bench-dash-api-", suffix=".log")[1])
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.api"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url, "the API", seconds=60, log=log)
        yield url, made.stdout.strip()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def view_ms(page: Page, url: str) -> float:
    """Milliseconds from navigation start to every panel drawn."""
    page.goto(url, wait_until="commit")
    page.wait_for_function(DRAWN, polling="raf", timeout=60_000)
    return float(page.evaluate("performance.now()"))


def run(storage_url: str, spans: dict[str, Query], runs: int, base: float) -> list[dict[str, Any]]:
    """p50/p95 of ``runs`` views of the dashboard for each range (after one warm-up view)."""
    out: list[dict[str, Any]] = []
    print(f"\nthe page in Chromium, {runs} views: p50 / p95 (navigation to every panel drawn)")
    with running_api(storage_url) as (url, key), sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_context(viewport={"width": 1100, "height": 800}).new_page()
        page.goto(f"{url}/ui/")
        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_function(DRAWN, timeout=120_000)
        for label, q in spans.items():
            path = f"{url}/ui/?from={q.first}&to={q.last}&interval={q.interval}"
            view_ms(page, path)  # not counted: the browser's first view of this range
            times = sorted(view_ms(page, path) for _ in range(runs))
            p50 = statistics.median(times)
            p95 = times[min(len(times) - 1, round(0.95 * len(times)) - 1)]
            print(f"  {label:<18}{p50:9.1f}{p95:9.1f} ms  {'ok' if p95 < TARGET_MS else 'over'}")
            for name, value in (("p50", p50), ("p95", p95)):
                fig = {"what": f"page usable, {label}, {name}", "value": round(value, 1)}
                out.append(fig | {"unit": "ms", "baseline": round(base, 1)})
            out[-1] |= {"target": "< 1 s", "met": p95 < TARGET_MS}
        browser.close()
    return out
