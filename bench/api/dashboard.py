"""Every marketing dashboard panel's data on N events (target: < 300 ms each on 10M events).

    .venv/bin/python -m bench.api.dashboard [--events 10000000] [--runs 7] [--no-page] [--keep]

Fills a database of its own (``cs_bench_dash``; kept with ``--keep`` and reused when it holds
N events) with 90 days of skewed synthetic traffic and one consent decision per ten events
(``bench.api.seed``), then times each panel's data call through the ``/v1/usage/*`` route
functions the dashboard itself awaits (no SQL of its own), for the page's default range (the
last 7 days, day buckets) and a wide one (``--wide-days``, 30 by default):

- ``live``: the answer computed from the events, as for a bucket nobody asked for before
  (``usage_settle_minutes`` < 0), one run each;
- the API's warmer, as it runs in the background (every closed bucket of the last
  ``usage_warm_days``), and then the first ask of each panel after it;
- p50 and p95 over ``--runs`` asks of each panel, and of the whole page's data (every panel at
  once with the previous period, as ``/ui/`` does);
- the page in Chromium (``bench.api.page``): navigation to every panel drawn, p50 and p95.

Baseline measured in the same run: a bare ``count()`` of the 90 days' events.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

from bench.api import seed, tables
from bench.calibration import measure, record
from consentstream.storage import open_storage, sql
from consentstream.storage.repository import Repository
from services.api import warmer
from services.api.config import ApiSettings
from services.api.deps import ApiState
from services.api.routes import usage as api
from services.api.ui import dashboard
from services.api.ui.panels import Query

DAYS = 90
DATABASE = "cs_bench_dash"
TARGET_MS = 300.0
# Every call the dashboard awaits for its panels, by the panel's name on the page.
PANELS: dict[str, Callable[..., Awaitable[Any]]] = {
    **{name: api.ROUTES[name] for name in dashboard.METRICS},
    "consent": api.consent,
    "consent_versions": api.consent_versions,
}
Ask = Callable[[], Coroutine[Any, Any, Any]]


def ranges(today: date, wide_days: int) -> dict[str, Query]:
    """The page's default range (as ``/ui/`` picks it) and a wide one, in day buckets."""
    default = dashboard._query(None, None, "day")
    return {
        "default (7 days)": default,
        f"wide ({wide_days} days)": Query(today - timedelta(days=wide_days), today, "day"),
    }


async def _dropped(ask: Ask) -> None:
    """Await ``ask`` and drop its answer. ``asyncio.Runner`` restores its SIGINT handler after
    each run, and ``signal.signal`` then formats the old handler, finished task and answer
    included: timing a run that returns a big answer timed its repr (seconds on every group)."""
    await ask()


def percentiles(runner: asyncio.Runner, ask: Ask, runs: int) -> tuple[float, float]:
    """p50 and p95 in ms of ``runs`` asks (p95: the nearest rank, the worst of under 20)."""
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        runner.run(_dropped(ask))
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, round(0.95 * len(times)) - 1)]


def once(runner: asyncio.Runner, ask: Ask) -> float:
    """Milliseconds of one ask."""
    began = time.perf_counter()
    runner.run(_dropped(ask))
    return (time.perf_counter() - began) * 1000


def panel_ask(state: ApiState, name: str, q: Query, every_group: bool = False) -> Ask:
    """One panel's data call, exactly as the dashboard makes it (``every_group``: no top)."""
    call = PANELS[name]

    async def ask() -> Any:
        if name in dashboard.METRICS and not every_group:
            return await dashboard.panel(name, state, cast(Any, None), q)
        return await call(state, None, q.start, q.end, q.interval)

    return ask


def page_ask(state: ApiState, q: Query) -> Ask:
    """Every panel and the previous period at once: the data behind one ``/ui/`` view."""

    async def ask() -> None:
        await dashboard.page_data(state, cast(Any, None), q)

    return ask


def figure(what: str, value: float, baseline: float, target: bool = True) -> dict[str, Any]:
    """One JSON-lines figure (ms), with the 300 ms verdict where the target applies."""
    out: dict[str, Any] = {"what": what, "value": round(value, 1), "unit": "ms"}
    out["baseline"] = round(baseline, 1)
    if target:
        out |= {"target": "< 300 ms", "met": value < TARGET_MS}
    return out


def state_for(storage_url: str, settle_minutes: int) -> ApiState:
    """What the route functions read: the settings and the repository (nothing else)."""
    settings = ApiSettings(
        environment="test", clickhouse_url=storage_url, usage_settle_minutes=settle_minutes
    )
    return cast(
        ApiState, SimpleNamespace(settings=settings, repo=Repository(open_storage(storage_url)))
    )


def verdict(ms: float) -> str:
    return "ok" if ms < TARGET_MS else "over"


def run_live(
    runner: asyncio.Runner, live: ApiState, spans: dict[str, Query], base: float, wide: bool
) -> list[dict[str, Any]]:
    """Each panel computed from the events (no stored answers): one ask per panel and range."""
    out = []
    print(f"\nlive (computed on the request path), one ask each; target {TARGET_MS:.0f} ms")
    for label, q in spans.items():
        if not label.startswith("default") and not wide:
            continue
        for name in PANELS:
            took = once(runner, panel_ask(live, name, q))
            print(f"  {label:<18} {name:<18}{took:9.1f} ms  {verdict(took)}", flush=True)
            out.append(figure(f"panel {name}, {label}, live", took, base, target=False))
    return out


def run_warmer(state: ApiState, settings: ApiSettings) -> dict[str, Any]:
    """The API's background warmer over every closed bucket, as after a first start."""
    closed = datetime.now(UTC) - timedelta(minutes=settings.usage_settle_minutes)
    began = time.perf_counter()
    count = warmer.warm(state.repo, settings.k_anonymity, closed, settings.usage_warm_days)
    count += warmer.warm_consent(state.repo, closed, settings.usage_warm_days)
    took = time.perf_counter() - began
    print(f"\nwarmer, in the background: {count:,} closed buckets in {took:.1f} s", flush=True)
    return {"what": "warmer, every closed bucket", "value": round(took, 1), "unit": "s"}


def run_stored(
    runner: asyncio.Runner,
    state: ApiState,
    spans: dict[str, Query],
    runs: int,
    base: float,
    warmed: bool,
) -> list[dict[str, Any]]:
    """The first ask of each panel, then p50/p95 of each panel and of the whole page's data.

    Not warmed, the first ask computes the buckets (a week of events per query) and stores
    them, as for a range nobody asked before; every later ask reads the stored answers.
    """
    out = []
    first_kind = "first ask (stored before)" if warmed else "first ask (computed, then stored)"
    print(f"\nas the API answers, {runs} asks: {first_kind} / p50 / p95")
    for label, q in spans.items():
        for name in PANELS:
            first = once(runner, panel_ask(state, name, q))
            p50, p95 = percentiles(runner, panel_ask(state, name, q), runs)
            print(
                f"  {label:<18} {name:<18}{first:9.1f}{p50:9.1f}{p95:9.1f} ms"
                f"  {verdict(max(first, p95))}",
                flush=True,
            )
            out.append(figure(f"panel {name}, {label}, {first_kind}", first, base, warmed))
            out.append(figure(f"panel {name}, {label}, p95", p95, base))
            out.append(figure(f"panel {name}, {label}, p50", p50, base, target=False))
            if name in dashboard.LONG_TAIL:
                asks = (panel_ask(state, name, q), panel_ask(state, name, q, every_group=True))
                took = percentiles(runner, asks[1], runs)
                out += tables.every_group(runner, label, name, asks, took, base)
                took = percentiles(runner, tables.without_leads(asks[0]), runs)
                out.append(tables.from_groups(label, name, took, base))
        p50, p95 = percentiles(runner, page_ask(state, q), runs)
        print(f"  {label:<18} {'whole page data':<18}{'':9}{p50:9.1f}{p95:9.1f} ms", flush=True)
        out.append(figure(f"page data (all panels), {label}, p95", p95, base, target=False))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=7, help="asks per panel for p50/p95")
    parser.add_argument("--wide-days", type=int, default=30, help="the wide range (up to 90)")
    parser.add_argument("--keep", action="store_true", help="keep the database for a rerun")
    parser.add_argument("--database", default=DATABASE, help="the bench's own database")
    parser.add_argument("--no-live", action="store_true", help="skip the live (cold) asks")
    parser.add_argument("--live-wide", action="store_true", help="live asks on the wide range too")
    parser.add_argument("--no-page", action="store_true", help="skip the page in Chromium")
    parser.add_argument(
        "--reuse-answers",
        action="store_true",
        help="keep the answers a --keep run stored (every ask then reads them)",
    )
    parser.add_argument(
        "--page-only", action="store_true", help="only the page (on answers a --keep run stored)"
    )
    parser.add_argument(
        "--warm", action="store_true", help="run the API's warmer first (minutes on 10M events)"
    )
    args = parser.parse_args()
    cal = measure()
    print(cal.line(), flush=True)
    settings = ApiSettings(environment="test")
    url = f"{settings.clickhouse_url.rsplit('/', 1)[0]}/{args.database}"
    state = state_for(url, settings.usage_settle_minutes)
    storage = state.repo.storage
    try:
        storage.migrate()
        today = datetime.now(UTC).date()
        start = datetime(today.year, today.month, today.day, tzinfo=UTC) - timedelta(days=DAYS)
        if state.repo.count_rows(sql.USAGE_EVENTS, visible=False) != args.events:
            print(f"generating {args.events:,} events over {DAYS} days", flush=True)
            began = time.perf_counter()
            seed.fill(state.repo, args.events, start, DAYS)
            print(f"  seeded in {time.perf_counter() - began:.0f} s", flush=True)
        spans = ranges(today, args.wide_days)
        base = _baseline(state.repo, start, start + timedelta(days=DAYS))
        print(f"\nClickHouse {'.'.join(map(str, storage.server_version))}, {args.events:,} events")
        print(f"baseline count() over {DAYS} days: {base:.1f} ms")
        results: list[dict[str, Any]] = []
        if not args.page_only:
            with asyncio.Runner() as runner:
                results += run_panels(runner, args, url, state, settings, spans, base)
        if not args.no_page:
            from bench.api import page

            results += page.run(url, spans, args.runs, base)
        record("dashboard", cal, results)
    finally:
        if not args.keep:
            storage.command(sql.statement(sql.DROP_DATABASE, storage.database))
        storage.close()


def run_panels(
    runner: asyncio.Runner,
    args: argparse.Namespace,
    url: str,
    state: ApiState,
    settings: ApiSettings,
    spans: dict[str, Query],
    base: float,
) -> list[dict[str, Any]]:
    """Live asks, then (after an optional warm) the stored path, each panel and the page data."""
    results: list[dict[str, Any]] = []
    storage = state.repo.storage
    if not args.no_live:
        results += run_live(runner, state_for(url, -1), spans, base, args.live_wide)
    if not args.reuse_answers:
        for table in (sql.USAGE_ANSWERS, sql.CONSENT_ANSWERS):
            storage.command(f"TRUNCATE TABLE {storage.database}.{table}")
    if args.warm:
        results.append(run_warmer(state, settings))
    stored_before = args.warm or args.reuse_answers
    results += run_stored(runner, state, spans, args.runs, base, stored_before)
    return results


def _baseline(repo: Repository, start: datetime, end: datetime) -> float:
    params = {"start": start, "end": end}
    query = (
        f"SELECT count() AS n FROM {repo.storage.database}.usage_events"
        " WHERE ts >= toDateTime(%(start)s, 'UTC') AND ts < toDateTime(%(end)s, 'UTC')"
    )
    times = []
    for _ in range(3):
        began = time.perf_counter()
        repo.storage.query(query, params)
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


if __name__ == "__main__":
    main()
