"""Marketing aggregates on N usage events (target: < 300 ms on 10M events).

    .venv/bin/python -m bench.api.aggregates [--events 10000000] [--keep] [--url URL]

Fills a database of its own on the configured ClickHouse server with synthetic, minimized
rows generated server-side (``INSERT ... SELECT FROM numbers``), then times each aggregate the
API runs (30 days, daily buckets, k = 5; median of 5 runs) three ways: computed live, asked
for the first time (computed and stored), and answered from the stored answers of closed
buckets (what every later ask costs), against a baseline measured in the same run: a bare
``count()`` over the same range with ``FINAL``. Then the API's warmer (``services/api/warmer``):
the time it takes, in the background, to store every closed bucket of the 30 days for every
dimension and bucket size, and what a first ask costs after it.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from bench.calibration import measure, record
from consentstream.settings import CommonSettings
from consentstream.storage import open_storage, sql
from consentstream.storage.repository import Repository
from services.api import answers, warmer

START = datetime(2026, 3, 1, tzinfo=UTC)
DAYS = 30
# Synthetic rows: 200k identified visitors (a third of rows anonymous), 500 pages, 40
# referrers, 6 browsers, 3 device classes, spread over 30 days. Bench data only: this SQL is
# not product SQL and never sees input.
GENERATED = {
    "event_id": "generateUUIDv4()",
    "type": "'pageview'",
    "ts": f"toDateTime({int(START.timestamp())} + number * 2591 % {DAYS * 86400}, 'UTC')",
    "visitor_key": "if(number % 3 = 0, '', hex(cityHash64(number % 200000)))",
    "page_path": "concat('/page/', toString(cityHash64(number) % 500))",
    "referrer_host": "concat('ref', toString(number % 40), '.example.com')",
    "browser_family": (
        "arrayElement(['Firefox','Chrome','Safari','Edge','Opera','Other'], number % 6 + 1)"
    ),
    "device_class": "arrayElement(['desktop','mobile','tablet'], number % 3 + 1)",
    "os_family": "arrayElement(['Windows','Mac OS X','Linux','Android','iOS'], number % 5 + 1)",
    "page_url": (
        "concat('https://www.example.com/p?utm_source=s', toString(number % 20),"
        " '&utm_medium=m', toString(number % 4), '&utm_campaign=c', toString(number % 60))"
    ),
    "purposes": "['necessary','analytics']",
}
TIME_COLUMNS = ("client_ts", "received_at")
# Every panel of the dashboard that reads usage_events: (label, dimension).
PANELS = [
    ("pageviews / visitors", "all"),
    ("pages", "page"),
    ("referrers", "referrer"),
    ("browsers", "browser"),
    ("devices", "device"),
    ("operating systems", "os"),
    ("utm source", "utm_source"),
    ("utm medium", "utm_medium"),
    ("utm campaign", "utm_campaign"),
]
# Consent decisions: one per ten events, two policy versions and three banners.
LEDGER = {
    "consent_id": "toString(generateUUIDv4())",
    "visitor_key": "if(number % 4 = 0, '', hex(cityHash64(number % 200000)))",
    "recorded_at": f"toDateTime({int(START.timestamp())} + number * 2591 % {DAYS * 86400}, 'UTC')",
    "necessary": "1",
    "analytics": "number % 3 != 0",
    "marketing": "number % 5 = 0",
    "preferences": "number % 2",
    "policy_version": "arrayElement(['2026-01','2026-02'], number % 2 + 1)",
    "banner_hash": "arrayElement(['b1','b2','b3'], number % 3 + 1)",
    "schema_version": "1",
}


def fill(repo: Repository, events: int) -> None:
    columns = sql.column_names(sql.USAGE_EVENTS)
    exprs = []
    for name in columns:
        if name in GENERATED:
            exprs.append(GENERATED[name])
        elif name in TIME_COLUMNS:
            exprs.append(GENERATED["ts"])
        elif name in ("gpc", "dnt", "schema_version"):
            exprs.append("1" if name == "schema_version" else "0")
        else:
            exprs.append("''")
    table = f"{repo.storage.database}.{sql.USAGE_EVENTS}"
    step = 1_000_000
    for offset in range(0, events, step):
        size = min(step, events - offset)
        repo.storage.command(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(exprs)}"
            f" FROM numbers({size}) WHERE number >= 0"  # noqa: S608 - fixed text
        )
        print(f"  inserted {offset + size:,}", flush=True)


def fill_ledger(repo: Repository, decisions: int) -> None:
    """Synthetic consent decisions for the consent panels (bench data, fixed SQL)."""
    columns = sql.column_names(sql.CONSENT_LEDGER)
    exprs = [
        LEDGER.get(name, "0" if name in ("gpc", "dnt", "gpc_applied") else "''") for name in columns
    ]
    table = f"{repo.storage.database}.{sql.CONSENT_LEDGER}"
    repo.storage.command(f"TRUNCATE TABLE {table}")
    repo.storage.command(
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(exprs)}"
        f" FROM numbers({decisions}) WHERE number >= 0"  # noqa: S608 - fixed text
    )


def consent_panels(repo: Repository, params: dict[str, Any], events: int) -> list[dict[str, Any]]:
    """The two consent panels, computed live on every ask (no stored answers)."""
    out = []
    for name, run in (
        ("consent rates", repo.usage_consent),
        ("consent per version", repo.usage_consent_versions),
    ):
        took = median_ms(partial(run, "day", params), repeat=3)
        print(f"{name:<28}{took:8.1f}    (live on every ask)   {'ok' if took < 300 else 'over'}")
        out.append(
            {
                "what": f"panel {name}, {events // 10:,} decisions (live)",
                "value": took,
                "unit": "ms",
                "target": "< 300 ms",
                "met": took < 300,
            }
        )
    return out


def median_ms(run: Callable[[], Any], repeat: int = 5) -> float:
    run()  # warm up
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--url", help="storage URL (default: the configured server), e.g. chdb:///tmp/bench"
    )
    args = parser.parse_args()
    cal = measure()
    print(cal.line(), flush=True)
    addresses = CommonSettings(environment="test")  # for its addresses only, no keys
    server = addresses.clickhouse_url.rsplit("/", 1)[0]
    storage = open_storage(args.url or f"{server}/cs_bench_api")
    repo = Repository(storage)
    try:
        storage.migrate()
        if repo.count_rows(sql.USAGE_EVENTS, visible=False) != args.events:
            storage.command(f"TRUNCATE TABLE {storage.database}.{sql.USAGE_EVENTS}")
            print(f"generating {args.events:,} events on {storage.url}", flush=True)
            fill(repo, args.events)
        params = {"start": START, "end": START + timedelta(days=DAYS), "k": 5}
        baseline = median_ms(
            lambda: storage.query(
                f"SELECT count() AS n FROM {storage.database}.usage_events FINAL"
                " WHERE ts >= toDateTime(%(start)s, 'UTC') AND ts < toDateTime(%(end)s, 'UTC')",
                params,
            )
        )
        version = ".".join(map(str, storage.server_version))
        print(f"\nClickHouse {version}, {args.events:,} events, {DAYS} days, daily buckets, k=5")
        print(f"{'baseline count() FINAL':<28}{baseline:8.1f} ms")
        print(f"{'':<28}{'live':>8}    {'first ask':>9}   {'stored':>8}   target 300 ms")
        storage.command(f"TRUNCATE TABLE {storage.database}.{sql.USAGE_ANSWERS}")
        results: list[dict[str, Any]] = []
        span = (START, START + timedelta(days=DAYS))
        closed = datetime.now(UTC)
        for name, dimension in PANELS:
            live = median_ms(partial(repo.usage_groups, dimension, "day", params), repeat=3)
            began = time.perf_counter()
            answers.rows_for(repo, dimension, "day", span, 5, closed)
            first = (time.perf_counter() - began) * 1000
            stored = median_ms(partial(answers.rows_for, repo, dimension, "day", span, 5, closed))
            verdict = "ok" if stored < 300 else "over"
            print(f"{name:<28}{live:8.1f}    {first:9.1f}   {stored:8.1f}   {verdict}")
            results.append(
                {
                    "what": f"aggregate {name}, {args.events:,} events (stored answers)",
                    "value": stored,
                    "unit": "ms",
                    "baseline": baseline,
                    "target": "< 300 ms",
                    "met": stored < 300,
                }
            )
        storage.command(f"TRUNCATE TABLE {storage.database}.{sql.USAGE_ANSWERS}")
        began = time.perf_counter()
        count = warmer.warm(repo, 5, span[1], DAYS)
        took = time.perf_counter() - began
        print(f"\nwarmer, in the background: {count:,} closed buckets stored in {took:.1f} s")
        for name, dimension in [("pageviews / visitors", "all"), ("pages", "page")]:
            began = time.perf_counter()
            answers.rows_for(repo, dimension, "day", span, 5, closed)
            first = (time.perf_counter() - began) * 1000
            verdict = "ok" if first < 300 else "over"
            print(f"first ask after warming, {name:<22}{first:8.1f} ms   {verdict}")
            results.append(
                {
                    "what": f"aggregate {name}, {args.events:,} events (first ask, warmed)",
                    "value": first,
                    "unit": "ms",
                    "baseline": baseline,
                    "target": "< 300 ms",
                    "met": first < 300,
                }
            )
        fill_ledger(repo, max(args.events // 10, 1))
        results += consent_panels(repo, params, args.events)
        record("aggregates", cal, results)
    finally:
        if not args.keep:
            storage.command(sql.statement(sql.DROP_DATABASE, storage.database))
        storage.close()


if __name__ == "__main__":
    main()
