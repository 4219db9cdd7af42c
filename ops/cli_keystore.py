"""``consentstream keys rotate-master``: every data key re-wrapped under the new master key.

The rotation window is set by settings, the same on the collector, the worker and here:
``CONSENTSTREAM_MASTER_KEY`` is the new master key and ``CONSENTSTREAM_PREVIOUS_MASTER_KEY`` the
old one, so the services read keys under either while this command moves the rest (see
:mod:`consentstream.key_rotation`). The run is audited (start, and its outcome even when it
stops half-way) and resumable: run it again until it reports nothing left.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from redis.exceptions import RedisError
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from consentstream import key_rotation, redis_client
from consentstream.key_rotation import RotationReport
from consentstream.settings import CommonSettings
from consentstream.shredding import KeyStore, MasterKey
from consentstream.storage import open_storage
from consentstream.storage.repository import Repository
from ops.cli_ops import operator
from ops.cli_privacy import audit_log

console = Console()
errors = Console(stderr=True)
DryRun = Annotated[bool, typer.Option("--dry-run", help="Only count the keys left to move.")]


def _store(settings: CommonSettings) -> KeyStore:
    return KeyStore.for_settings(redis_client.keystore_client(settings), settings)


async def _count(settings: CommonSettings) -> int:
    store = _store(settings)
    try:
        return await key_rotation.pending(store)
    finally:
        await store.redis.aclose()


async def _run(settings: CommonSettings, total: int) -> tuple[RotationReport, int]:
    """Move every old entry under a progress bar; the report and what is left after."""
    store = _store(settings)
    columns = (
        TextColumn("re-wrapping data keys"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("rotate", total=total)
            report = await key_rotation.rotate(store, lambda n: progress.advance(task, n))
        return report, await key_rotation.pending(store)
    finally:
        await store.redis.aclose()


def rotate_master(dry_run: DryRun = False) -> None:
    """Re-wrap every data key still under the previous master key under the new one. Audited.

    Set CONSENTSTREAM_PREVIOUS_MASTER_KEY (old) and CONSENTSTREAM_MASTER_KEY (new) on every
    collector and worker first, then run this with the same two; run it again after a stop. When
    it reports 0 left, unset the previous key everywhere. Exit 1 when keys are left behind.
    """
    settings = CommonSettings()
    if settings.previous_master_key is None:
        errors.print("[bold red]error:[/] set CONSENTSTREAM_PREVIOUS_MASTER_KEY (the old key)")
        raise typer.Exit(2)
    names = {
        "from": MasterKey(settings.previous_master_key.get_secret_value()).fingerprint,
        "to": MasterKey(settings.master_key.get_secret_value()).fingerprint,
    }
    try:
        total = asyncio.run(_count(settings))
    except RedisError as exc:
        errors.print(f"[bold red]error:[/] key store: {escape(str(exc))}")
        raise typer.Exit(1) from exc
    console.print(f"{total:,} data keys under {names['from']} to re-wrap under {names['to']}")
    if dry_run or total == 0:
        return
    with (
        open_storage(settings.clickhouse_url) as storage,
        audit_log(Repository(storage), settings.redis_url_for_locks) as audit,
    ):
        target = f"{names['from']}->{names['to']}"
        audit.append(operator(), "admin", "keystore.rotate", target, {**names, "pending": total})
        outcome: dict[str, object] = {"completed": False}
        try:
            report, left = asyncio.run(_run(settings, total))
            outcome = {**_counts(report), "left": left, "completed": left == 0}
        except (RedisError, KeyboardInterrupt) as exc:
            outcome["stopped_by"] = type(exc).__name__
            raise
        finally:
            audit.append(operator(), "admin", "keystore.rotated", target, {**names, **outcome})
    _print(report, left)
    if left or report.unreadable:
        raise typer.Exit(1)


def _counts(report: RotationReport) -> dict[str, object]:
    return {
        "moved": report.moved,
        "kept_current": report.kept_current,
        "gone": report.gone,
        "unreadable": report.unreadable,
    }


def _print(report: RotationReport, left: int) -> None:
    console.print(
        f"moved {report.moved:,}; {report.kept_current:,} already under the new key;"
        f" {report.gone:,} erased or expired meanwhile; {report.unreadable:,} unreadable"
        f" (left in place); {left:,} left under the previous key",
        highlight=False,
    )
    if left == 0 and report.unreadable == 0:
        console.print("done: unset CONSENTSTREAM_PREVIOUS_MASTER_KEY everywhere", highlight=False)
