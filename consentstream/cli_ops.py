"""CLI commands that operate the product: keys, storage migration, and running each process."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape

from consentstream.keys import new_key
from consentstream.settings import CommonSettings
from consentstream.storage import open_storage
from consentstream.storage.repository import Repository
from schemas.rows import ApiRole, PrivacyRequestType

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
keys_app = typer.Typer(no_args_is_help=True, help="Create and revoke API keys.")


@keys_app.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="Who the key is for.")],
) -> None:
    """Create an API key with ROLE and print it once; only its hash is stored."""
    storage = open_storage(CommonSettings().clickhouse_url)
    try:
        storage.migrate()
        plaintext, row = new_key(ROLES[role])
        Repository(storage).save_api_key(row)
    finally:
        storage.close()
    typer.echo(plaintext)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key id shown by create")]) -> None:
    """Revoke a key by its id (the 8 hex characters after ``cs_``)."""
    storage = open_storage(CommonSettings().clickhouse_url)
    try:
        found = Repository(storage).revoke_api_key(key_id)
    finally:
        storage.close()
    if not found:
        console.print(f"[red]no key with id {key_id}[/red]")
        raise typer.Exit(1)
    console.print(f"revoked {key_id}")


@keys_app.command("list")
def keys_list() -> None:
    """List keys (id, role, created, revoked); keys themselves are never stored or shown."""
    from rich.table import Table

    storage = open_storage(CommonSettings().clickhouse_url)
    try:
        rows = Repository(storage).list_api_keys()
    finally:
        storage.close()
    table = Table("key id", "role", "created", "state")
    for row in rows:
        state = "[red]revoked[/red]" if row.revoked else "[green]active[/green]"
        table.add_row(row.key_id, row.role, row.created_at.isoformat(timespec="seconds"), state)
    console.print(table)


audit_app = typer.Typer(no_args_is_help=True, help="The hash-chained audit log.")
requests_app = typer.Typer(no_args_is_help=True, help="Data subject requests.")
hold_app = typer.Typer(no_args_is_help=True, help="Legal holds on a subject's data.")


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the chain; exit 1 and name the first broken seq if any entry was altered."""
    from consentstream.audit import verify

    storage = open_storage(CommonSettings().clickhouse_url)
    try:
        with console.status("verifying the audit chain"):
            verdict = verify(Repository(storage).audit_entries())
    finally:
        storage.close()
    if verdict.ok:
        console.print(f"OK: {verdict.entries} entries, chain intact")
        return
    console.print(f"[red]BROKEN at seq {verdict.broken_seq}[/red]: {verdict.reason}")
    raise typer.Exit(1)


@requests_app.command("list")
def requests_list() -> None:
    """Requests newest first, with deadlines; due-soon ones marked."""
    from rich.table import Table

    from services.api import requests as intake
    from services.api.config import ApiSettings

    settings = ApiSettings()
    storage = open_storage(settings.clickhouse_url)
    try:
        rows = Repository(storage).list_privacy_requests()
    finally:
        storage.close()
    table = Table("type", "status", "created", "deadline", "due soon")
    table.add_column("request", no_wrap=True, min_width=32)  # ids are copied whole into show
    for row in rows:
        view = intake.view(row, settings.due_soon_days, with_result=False)
        soon = "[yellow]yes[/yellow]" if view.due_soon else ""
        table.add_row(
            row.type,
            row.status,
            f"{row.created_at:%Y-%m-%d}",
            f"{row.deadline:%Y-%m-%d}",
            soon,
            row.request_id,
        )
    console.print(table)


@requests_app.command("show")
def requests_show(request_id: Annotated[str, typer.Argument(help="The request id")]) -> None:
    """One request with its result as JSON (an audited per-visitor read)."""
    from consentstream.audit import AuditLog
    from services.api import requests as intake
    from services.api.config import ApiSettings

    settings = ApiSettings()
    storage = open_storage(settings.clickhouse_url)
    try:
        repo = Repository(storage)
        row = repo.get_privacy_request(request_id)
        if row is None:
            console.print(f"[red]no request {request_id}[/red]")
            raise typer.Exit(1)
        if row.result:
            detail = {"request_id": row.request_id, "type": row.type}
            AuditLog(repo).append("cli", "admin", "request.read", row.subject_key, detail)
    finally:
        storage.close()
    typer.echo(intake.view(row, settings.due_soon_days).model_dump_json(indent=2))


@requests_app.command("approve")
def requests_approve(
    request_id: Annotated[str, typer.Argument(help="The request id")],
    reason: Annotated[str, typer.Option(help="What evidence was checked (audited).", min=3)],
) -> None:
    """Approve an agent's or parent's request pending verification; the worker then runs it."""
    from services.api.casework import CLI_ACTOR

    async def decide(work: Any) -> str:
        row = await asyncio.to_thread(work.repo.get_privacy_request, request_id)
        if row is None:
            return "missing"
        return str((await work.decide(CLI_ACTOR, row, True, reason)).status)

    status = _with_casework(decide)
    if status == "missing":
        console.print(f"[red]no request {request_id}[/red]")
        raise typer.Exit(1)
    console.print(f"{request_id}: {status}")


def _with_casework(action: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run ``action(casework)`` with the stores and a producer, closing them afterwards."""
    from consentstream.audit import AuditLog
    from consentstream.kafka import EventProducer
    from consentstream.topics import Topics
    from services.api.casework import Casework

    settings = CommonSettings()

    async def run() -> Any:
        producer = EventProducer(settings.kafka_bootstrap, 10.0)
        try:
            topics = Topics(settings.topic_prefix)
            return await action(Casework(repo, AuditLog(repo), producer, topics))
        finally:
            await producer.close()

    storage = open_storage(settings.clickhouse_url)
    try:
        repo = Repository(storage)
        return asyncio.run(run())
    finally:
        storage.close()


def _hold(visitor_id: str, held: bool, reason: str) -> list[str]:
    from consentstream.identity import pseudonymize
    from services.api.casework import CLI_ACTOR

    subject = pseudonymize(visitor_id, CommonSettings().pseudonym_key.get_secret_value())

    async def change(work: Any) -> list[str]:
        released: list[str] = await work.set_hold(CLI_ACTOR, subject, held, reason)
        return released

    released: list[str] = _with_casework(change)
    return released


Reason = Annotated[str, typer.Option(help="Why (kept in the audit log).", min=3)]
VisitorArg = Annotated[str, typer.Argument(help="The subject's visitor id")]


@hold_app.command("set")
def hold_set(visitor_id: VisitorArg, reason: Reason) -> None:
    """Put a subject under legal hold: their deletions wait on_hold until it is lifted."""
    stopped = _hold(visitor_id, True, reason)
    console.print(f"hold set; stopped {len(stopped)} queued deletion(s): {', '.join(stopped)}")


@hold_app.command("lift")
def hold_lift(visitor_id: VisitorArg, reason: Reason) -> None:
    """Lift a legal hold and run the deletions that waited on it."""
    released = _hold(visitor_id, False, reason)
    console.print(f"hold lifted; released {len(released)} deletion(s): {', '.join(released)}")


def _carry_out(visitor_id: str, kind: PrivacyRequestType, timeout: float) -> dict[str, Any]:
    """File a pre-verified request as the CLI operator, follow it under a spinner, return it."""
    import time

    from consentstream.identity import pseudonymize
    from services.api.casework import CLI_ACTOR, result_with_report
    from services.api.config import ApiSettings
    from services.api.datamap import load_data_map

    settings = ApiSettings()
    subject = pseudonymize(visitor_id, settings.pseudonym_key.get_secret_value())

    async def file(work: Any) -> Any:
        return await work.file(
            CLI_ACTOR,
            kind,
            subject,
            settings.request_deadline_days,
            settings.access_requests_per_year,
            {"via": "cli"},
        )

    row = _with_casework(file)
    storage = open_storage(settings.clickhouse_url)
    try:
        repo = Repository(storage)
        deadline = time.monotonic() + timeout
        with console.status(f"{kind} {row.request_id}: {row.status}") as spinner:
            while row.status not in ("done", "failed", "on_hold", "rejected"):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.5)
                row = repo.get_privacy_request(row.request_id) or row
                spinner.update(f"{kind} {row.request_id}: {row.status}")
        result = result_with_report(repo, load_data_map(settings.data_map_path), row)
    finally:
        storage.close()
    return {"request_id": row.request_id, "status": row.status, "result": result}


Timeout = Annotated[float, typer.Option(help="Seconds to wait for the worker.")]


def purge(visitor_id: VisitorArg, timeout: Timeout = 120.0) -> None:
    """Erase a visitor everywhere (a pre-verified deletion) and print the receipt."""
    outcome = _carry_out(visitor_id, "deletion", timeout)
    result = outcome["result"] or {}
    console.print(f"request {outcome['request_id']}: {outcome['status']}", highlight=False)
    for store, counts in result.get("stores", {}).items():
        console.print(f"  {store:<28} before {counts['before']:>6}  after {counts['after']:>6}")
    if outcome["status"] != "done":
        raise typer.Exit(1)
    console.print(f"verified zero everywhere: {result.get('verified_zero')}")


def report(visitor_id: VisitorArg, timeout: Timeout = 120.0) -> None:
    """Produce a visitor's access report (counts as one of their two a year) and print it."""
    from services.api.errors import TooManyRequests

    try:
        outcome = _carry_out(visitor_id, "access", timeout)
    except TooManyRequests as exc:
        console.print(f"[red]{exc.message}[/red]", highlight=False)
        raise typer.Exit(1) from None
    if outcome["status"] != "done":
        console.print(f"request {outcome['request_id']}: {outcome['status']}")
        raise typer.Exit(1)
    typer.echo(orjson.dumps(outcome, option=orjson.OPT_INDENT_2).decode())


def retention() -> None:
    """Remove rows older than their table's retention period in the data map (for cron)."""
    from services.api import retention as rules
    from services.api.config import ApiSettings
    from services.api.datamap import load_data_map

    settings = ApiSettings()
    storage = open_storage(settings.clickhouse_url)
    try:
        with console.status("enforcing retention"):
            removed = rules.enforce(Repository(storage), load_data_map(settings.data_map_path))
    finally:
        storage.close()
    for table, count in removed.items():
        console.print(f"{table:<20} {count:>8} expired rows removed", highlight=False)


def migrate() -> None:
    """Create the ClickHouse tables and the Kafka topics with their settings (idempotent)."""
    from consentstream.kafka_topics import PartitionMismatch, TopicError
    from streams.__main__ import prepare
    from streams.config import WorkerSettings

    settings = WorkerSettings()
    try:
        with console.status("creating tables and topics"):
            report = prepare(settings)
    except TopicError as exc:
        if isinstance(exc, PartitionMismatch):
            _print_lines(exc.report.lines())
        Console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None
    _print_lines(report.lines())
    console.print(f"storage and topics ready (prefix {settings.topic_prefix!r})", highlight=False)


def _print_lines(lines: list[str]) -> None:
    for line in lines:
        console.print(escape(line), highlight=False)


def worker() -> None:
    """Run a stream worker (Faust) in the foreground."""
    from streams.__main__ import main

    main()


def collector() -> None:
    """Run the collector in the foreground."""
    from services.collector.__main__ import main

    main()


def api() -> None:
    """Run the API in the foreground."""
    from services.api.__main__ import main

    main()


def start_apps() -> None:
    """Start the collector, worker and API in the background and print where to look."""
    from consentstream import apps
    from services.api.config import ApiSettings
    from services.collector.config import CollectorSettings

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
    from consentstream import apps

    stopped = apps.stop_apps()
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


def register(app: typer.Typer) -> None:
    """Add these commands to the main CLI."""
    app.add_typer(keys_app, name="keys")
    app.add_typer(audit_app, name="audit")
    app.add_typer(requests_app, name="requests")
    app.add_typer(hold_app, name="hold")
    for command in (migrate, worker, collector, api, purge, report, retention):
        app.command()(command)
    app.command("start-apps")(start_apps)
    app.command("stop-apps")(stop_apps)
    from streams.dlq import cli_app as dlq_app

    app.add_typer(dlq_app, name="dlq")
