"""CLI commands that operate the product: keys, audit, retention, migration, each process."""

from __future__ import annotations

import asyncio
import getpass
import os
from datetime import timedelta
from enum import StrEnum
from typing import Annotated

import typer
from redis.exceptions import RedisError
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from consentstream import redis_client, redis_retag
from consentstream.audit import verify
from consentstream.audit_anchor import KafkaHeadAnchor
from consentstream.kafka_topics import PartitionMismatch, TopicError
from consentstream.keys import change_role, create_key, revoke_key
from consentstream.preparation import prepare_pipeline
from consentstream.settings import CommonSettings
from consentstream.storage import open_storage
from consentstream.storage.repository import Repository
from consentstream.topics import Topics
from ops import apps
from ops.cli_privacy import audit_log
from ops.consent_rebuild import rebuild
from ops.stack import secrets
from ops.stack.config import StackSettings
from schemas.rows import ApiRole
from services.api import retention as rules
from services.api.config import ApiSettings
from services.api.datamap import load_data_map
from services.collector.config import CollectorSettings
from streams.config import WorkerSettings

console = Console()


class Role(StrEnum):
    """Roles a key may have (need-to-know: marketing sees aggregates only)."""

    marketing = "marketing"
    privacy = "privacy"
    admin = "admin"


ROLES: dict[Role, ApiRole] = {
    Role.marketing: "marketing",
    Role.privacy: "privacy",
    Role.admin: "admin",
}
keys_app = typer.Typer(
    no_args_is_help=True, help="Create and revoke API keys; rotate the key store's master key."
)


def operator() -> str:
    """Who acts from the command line, as the audit chain names them."""
    return f"cli:{getpass.getuser()}"


@keys_app.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="Who the key is for.")],
) -> None:
    """Create an API key with ROLE and print it once; only its hash is stored. Audited."""
    settings = CommonSettings()
    with open_storage(settings.clickhouse_url) as storage:
        storage.migrate()
        repo = Repository(storage)
        with audit_log(repo, settings.redis_url_for_locks) as audit:
            plaintext = create_key(repo, audit, ROLES[role], operator())
    typer.echo(plaintext)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key id shown by create")]) -> None:
    """Revoke a key by its id (the 8 hex characters after ``cs_``). Audited."""
    settings = CommonSettings()
    with open_storage(settings.clickhouse_url) as storage:
        repo = Repository(storage)
        with audit_log(repo, settings.redis_url_for_locks) as audit:
            found = revoke_key(repo, audit, key_id, operator())
    if not found:
        console.print(f"[red]no key with id {key_id}[/red]")
        raise typer.Exit(1)
    console.print(f"revoked {key_id}")


@keys_app.command("set-role")
def keys_set_role(
    key_id: Annotated[str, typer.Argument(help="The key id shown by create")],
    role: Annotated[Role, typer.Option(help="The key's new role.")],
) -> None:
    """Change a key's role (takes effect within the API's key cache time). Audited."""
    settings = CommonSettings()
    with open_storage(settings.clickhouse_url) as storage:
        repo = Repository(storage)
        with audit_log(repo, settings.redis_url_for_locks) as audit:
            found = change_role(repo, audit, key_id, ROLES[role], operator())
    if not found:
        console.print(f"[red]no key with id {key_id}[/red]")
        raise typer.Exit(1)
    console.print(f"{key_id} is now {role.value}")


@keys_app.command("list")
def keys_list() -> None:
    """List keys (id, role, created, revoked); keys themselves are never stored or shown."""
    with open_storage(CommonSettings().clickhouse_url) as storage:
        rows = Repository(storage).list_api_keys()
    table = Table("key id", "role", "created", "state")
    for row in rows:
        state = "[red]revoked[/red]" if row.revoked else "[green]active[/green]"
        table.add_row(row.key_id, row.role, row.created_at.isoformat(timespec="seconds"), state)
    console.print(table)


audit_app = typer.Typer(no_args_is_help=True, help="The hash-chained audit log.")


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the keyed chain and check it reaches the head anchored in Kafka; exit 1 and
    name the first broken seq if any entry was altered, removed or cut from the end."""
    settings = CommonSettings()
    anchor = KafkaHeadAnchor(settings.kafka_bootstrap, Topics(settings.topic_prefix).audit_heads)
    with open_storage(settings.clickhouse_url) as storage:
        with console.status("verifying the audit chain"):
            head = anchor.latest(storage.database)
            entries = Repository(storage).audit_entries()
            verdict = verify(entries, settings.audit_key.get_secret_value().encode(), head)
    if verdict.ok:
        anchored = f", anchored head seq {head.seq}" if head else ", no anchored head yet"
        console.print(f"OK: {verdict.entries} entries, chain intact{anchored}")
        return
    console.print(f"[red]BROKEN at seq {verdict.broken_seq}[/red]: {verdict.reason}")
    raise typer.Exit(1)


def retention() -> None:
    """Remove rows older than their table's retention period in the data map (for cron)."""
    settings = ApiSettings()
    with open_storage(settings.clickhouse_url) as storage:
        with console.status("enforcing retention"):
            removed = rules.enforce(Repository(storage), load_data_map(settings.data_map_path))
    for table, count in removed.items():
        console.print(f"{table:<20} {count:>8} expired rows removed", highlight=False)


def migrate() -> None:
    """Create the ClickHouse tables and the Kafka topics with their settings (idempotent)."""
    settings = WorkerSettings()
    try:
        with console.status("creating tables and topics"):
            report = prepare_pipeline(settings)
    except TopicError as exc:
        if isinstance(exc, PartitionMismatch):
            _print_lines(exc.report.lines())
        Console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None
    _print_lines(report.lines())
    renamed = asyncio.run(_upgrade_redis(settings))
    if renamed:
        console.print(f"renamed {renamed} Redis keys to their hash-tagged names")
    console.print(f"storage and topics ready (prefix {settings.topic_prefix!r})", highlight=False)


async def _upgrade_redis(settings: CommonSettings) -> int | None:
    """Keys written before hash tags get their new names before the apps start on them."""
    redis = redis_client.async_client(settings)
    try:
        return await redis_retag.upgrade(redis)
    finally:
        await redis.aclose()


def _print_lines(lines: list[str]) -> None:
    for line in lines:
        console.print(escape(line), highlight=False)


def worker() -> None:
    """Run a stream worker (Faust) in the foreground."""
    # Imported here, not at the top: it loads the whole app (Faust, a second or more), which
    # every other command would pay for.
    from streams.__main__ import main

    main()


def collector() -> None:
    """Run the collector in the foreground."""
    # Imported here, not at the top: it loads the whole app (FastAPI, a second or more), which
    # every other command would pay for.
    from services.collector.__main__ import main

    main()


def api() -> None:
    """Run the API in the foreground."""
    # Imported here, not at the top: it loads the whole app (FastAPI, a second or more), which
    # every other command would pay for.
    from services.api.__main__ import main

    main()


def start_apps() -> None:
    """Start the collector, worker and API in the background and print where to look."""
    # migrate and the apps below use the stack's keys (made now if `up` has not made them)
    secrets.export(StackSettings(), os.environ, create=True)
    migrate()
    with console.status("starting collector, worker and API"):
        report = apps.start_apps()
    for name, pid, detail in report:
        console.print(f"[green]{name:<10}[/] pid {pid:<8} {detail}", highlight=False)
    base = apps.collector_url(CollectorSettings())
    api_settings = ApiSettings()
    api_base = f"http://{api_settings.api_host}:{api_settings.api_port}"
    console.print(f"\n  demo site       {base}/demo/", highlight=False)
    console.print(f"  collector docs  {base}/docs", highlight=False)
    console.print(f"  API docs        {api_base}/docs", highlight=False)
    console.print(f"  metrics         {base}/metrics", highlight=False)
    console.print("\n  a privacy key:  consentstream keys create --role privacy", highlight=False)


def stop_apps() -> None:
    """Stop the collector, worker and API started by start-apps."""
    stopped = apps.stop_apps()
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


consent_app = typer.Typer(help="Consent state kept in Redis.", no_args_is_help=True)


@consent_app.command("rebuild")
def consent_rebuild() -> None:
    """Restore every visitor's consent history and decision in force in Redis from the ledger.

    For a lost or replaced Redis: without this, visitors count as undecided (necessary-only)
    until they choose again. Erased subjects are skipped. Safe to run at any time.
    """
    settings = CommonSettings()
    columns = (SpinnerColumn(), TextColumn("{task.completed:,} visitors"), TimeElapsedColumn())
    try:
        with (
            open_storage(settings.clickhouse_url) as storage,
            redis_client.sync_client(settings) as redis,
            Progress(*columns, console=console, transient=True) as progress,
        ):
            task = progress.add_task("rebuild", total=None)
            done = rebuild(
                Repository(storage),
                redis,
                timedelta(days=settings.consent_state_days),
                progress=lambda n: progress.advance(task, n),
            )
    except RedisError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] Redis: {escape(str(exc))}")
        raise typer.Exit(1) from exc
    console.print(
        f"{done.visitors:,} visitors, {done.decisions:,} decisions written to their histories,"
        f" {done.mirrors:,} decisions in force restored; skipped {done.skipped_erased:,} erased"
        f" and {done.skipped_expired:,} whose last decision is older than"
        f" {settings.consent_state_days} days",
        highlight=False,
    )
