"""Subject erasure on N stored rows (targets: invisible < 5 s, physically removed < 60 s).

    .venv/bin/python -m bench.api.deletion [--events 1000000] [--subject-rows 1000]

Fills a database of its own with N synthetic usage events (generated server-side), of which
``--subject-rows`` belong to one subject, then erases that subject the way the worker does
(:meth:`Repository.delete_subject`) and prints when its rows stopped being visible to queries
and when the deleting mutation finished, against a baseline measured in the same run: one
``count()`` of the subject's rows.
"""

from __future__ import annotations

import argparse
import time

from bench.calibration import measure, record
from consentstream.settings import CommonSettings
from consentstream.storage import open_storage, sql
from consentstream.storage.repository import Repository

from .aggregates import GENERATED, fill

SUBJECT = "b" * 32


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--subject-rows", type=int, default=1000)
    args = parser.parse_args()
    cal = measure()
    print(cal.line(), flush=True)
    every = max(1, args.events // args.subject_rows)
    GENERATED["visitor_key"] = (
        f"if(number % {every} = 0, '{SUBJECT}', hex(cityHash64(number % 200000)))"
    )
    addresses = CommonSettings(environment="test")  # for its addresses only, no keys
    server = addresses.clickhouse_url.rsplit("/", 1)[0]
    storage = open_storage(f"{server}/cs_bench_delete")
    repo = Repository(storage, mutation_timeout=300)
    try:
        storage.command(sql.statement(sql.DROP_DATABASE, storage.database))
        storage.migrate()
        print(f"generating {args.events:,} events on {storage.url}", flush=True)
        fill(repo, args.events)
        before = repo.count_subject(SUBJECT)["usage_events"]
        began = time.perf_counter()
        repo.count_subject(SUBJECT)
        baseline = time.perf_counter() - began

        began = time.perf_counter()
        repo.delete_subject(SUBJECT, wait=False)
        while repo.count_subject(SUBJECT)["usage_events"]:
            time.sleep(0.05)
        invisible = time.perf_counter() - began
        for table in sql.SUBJECT_TABLES:
            repo.wait_for_mutations(table)
        removed = time.perf_counter() - began

        version = ".".join(map(str, storage.server_version))
        print(f"\nClickHouse {version}: {args.events:,} rows, {before:,} of the subject")
        print(f"{'baseline count of the subject':<32}{baseline * 1000:9.1f} ms")
        ok = "ok" if invisible < 5 else "over 5 s target"
        print(f"{'invisible to queries after':<32}{invisible * 1000:9.1f} ms   {ok}")
        ok = "ok" if removed < 60 else "over 60 s target"
        print(f"{'mutation done after':<32}{removed * 1000:9.1f} ms   {ok}")
        left = sum(repo.count_subject(SUBJECT).values())
        print(f"{'left for the subject':<32}{left:9d}")
        record(
            "erasure",
            cal,
            [
                {
                    "what": f"erasure of one subject among {args.events:,} rows: invisible",
                    "value": invisible,
                    "unit": "s",
                    "baseline": baseline,
                    "target": "< 5 s",
                    "met": invisible < 5,
                },
                {
                    "what": f"erasure of one subject among {args.events:,} rows: removed",
                    "value": removed,
                    "unit": "s",
                    "target": "< 60 s, nothing left",
                    "met": removed < 60 and left == 0,
                },
            ],
        )
    finally:
        storage.command(sql.statement(sql.DROP_DATABASE, storage.database))
        storage.close()


if __name__ == "__main__":
    main()
