"""CLI commands for data subject requests: list, show and approve them, legal holds, purge, report.

Each command that acts on a subject goes through the API's casework as the CLI operator, so it
is audited and queued for the worker exactly as a request made over HTTP.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

import orjson
import typer
from rich.console import Console
from rich.table import Table

from consentstream.audit import AuditLog, AuditUnavailable, lock_client
from consentstream.audit_anchor import KafkaHeadAnchor
from consentstream.identity import pseudonymize
from consentstream.kafka import EventProducer
from consentstream.settings import CommonSettings
from consentstream.storage import open_storage
from consentstream.storage.repository import Repository
from consentstream.topics import Topics
from schemas.rows import PrivacyRequestRow, PrivacyRequestType
from services.api.config import ApiSettings
from services.api.datamap import load_data_map
from services.api.errors import TooManyRequests
from services.api.privacy import rules as intake
from services.api.privacy.casework import CLI_ACTOR, Casework, NewRequest, result_with_report
from services.api.privacy.rules import Policy

T = TypeVar("T")

console = Console()
errors = Console(stderr=True)
requests_app = typer.Typer(no_args_is_help=True, help="Data subject requests.")
hold_app = typer.Typer(no_args_is_help=True, help="Legal holds on a subject's data.")


@contextmanager
def audit_log(repo: Repository, redis_url: str) -> Iterator[AuditLog]:
    """The audit log, locked through Redis like the API's; no lock means exit 1, nothing done."""
    settings = CommonSettings()
    anchor = KafkaHeadAnchor(settings.kafka_bootstrap, Topics(settings.topic_prefix).audit_heads)
    with lock_client(redis_url) as redis:
        try:
            yield AuditLog(repo, redis, settings.audit_key.get_secret_value().encode(), anchor)
        except AuditUnavailable as exc:
            errors.print(f"[bold red]error:[/] audit log unavailable: {exc}", highlight=False)
            raise typer.Exit(1) from None
        finally:
            anchor.close()


@requests_app.command("list")
def requests_list() -> None:
    """Requests newest first, with deadlines; due-soon ones and late processors marked."""
    settings = ApiSettings()
    with open_storage(settings.clickhouse_url) as storage:
        rows = Repository(storage).list_privacy_requests()
    table = Table("type", "status", "created", "deadline", "due soon", "processors late")
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
            f"[red]{', '.join(view.processors_overdue)}[/red]" if view.processors_overdue else "",
            row.request_id,
        )
    console.print(table)


@requests_app.command("show")
def requests_show(request_id: Annotated[str, typer.Argument(help="The request id")]) -> None:
    """One request with its result as JSON (an audited per-visitor read)."""
    settings = ApiSettings()
    with open_storage(settings.clickhouse_url) as storage:
        repo = Repository(storage)
        row = repo.get_privacy_request(request_id)
        if row is None:
            console.print(f"[red]no request {request_id}[/red]")
            raise typer.Exit(1)
        if row.result:
            detail = {"request_id": row.request_id, "type": row.type}
            with audit_log(repo, settings.redis_url_for_locks) as audit:
                audit.append("cli", "admin", "request.read", row.subject_key, detail)
    typer.echo(intake.view(row, settings.due_soon_days).model_dump_json(indent=2))


@requests_app.command("approve")
def requests_approve(
    request_id: Annotated[str, typer.Argument(help="The request id")],
    reason: Annotated[str, typer.Option(help="What evidence was checked (audited).", min=3)],
) -> None:
    """Approve an agent's or parent's request pending verification; the worker then runs it."""

    async def decide(work: Casework) -> str:
        row = await asyncio.to_thread(work.repo.get_privacy_request, request_id)
        if row is None:
            return "missing"
        return str((await work.decide(CLI_ACTOR, row, True, reason)).status)

    status = _with_casework(decide)
    if status == "missing":
        console.print(f"[red]no request {request_id}[/red]")
        raise typer.Exit(1)
    console.print(f"{request_id}: {status}")


def _with_casework(action: Callable[[Casework], Awaitable[T]], policy: Policy | None = None) -> T:
    """Run ``action(casework)`` with the stores and a producer, closing them afterwards."""
    settings = CommonSettings()

    async def run(audit: AuditLog) -> T:
        producer = EventProducer(settings.kafka_bootstrap, 10.0)
        try:
            topics = Topics(settings.topic_prefix)
            work = Casework(audit.repo, audit, producer, topics)
            if policy is not None:
                work.policy = policy
            return await action(work)
        finally:
            await producer.close()

    with open_storage(settings.clickhouse_url) as storage:
        with audit_log(Repository(storage), settings.redis_url_for_locks) as audit:
            return asyncio.run(run(audit))


def _hold(visitor_id: str, held: bool, reason: str) -> list[str]:
    subject = pseudonymize(visitor_id, CommonSettings().pseudonym_key.get_secret_value())

    async def change(work: Casework) -> list[str]:
        return await work.set_hold(CLI_ACTOR, subject, held, reason)

    return _with_casework(change)


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
    settings = ApiSettings()
    subject = pseudonymize(visitor_id, settings.pseudonym_key.get_secret_value())

    async def file(work: Casework) -> PrivacyRequestRow:
        request = NewRequest(kind=kind, subject_key=subject, detail={"via": "cli"})
        return (await work.file(CLI_ACTOR, request)).row

    row = _with_casework(file, settings.privacy_policy)
    with open_storage(settings.clickhouse_url) as storage:
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
    return {"request_id": row.request_id, "status": row.status, "result": result}


Timeout = Annotated[float, typer.Option(help="Seconds to wait for the worker.")]


def purge(visitor_id: VisitorArg, timeout: Timeout = 120.0) -> None:
    """Erase a visitor everywhere (a pre-verified deletion) and print the receipt."""
    outcome = _carry_out(visitor_id, "deletion", timeout)
    signed = outcome["result"] or {}
    result = signed.get("receipt", {})
    console.print(f"request {outcome['request_id']}: {outcome['status']}", highlight=False)
    for store, counts in result.get("stores", {}).items():
        console.print(f"  {store:<28} before {counts['before']:>6}  after {counts['after']:>6}")
    for store, kept in result.get("kept", {}).items():
        console.print(f"  {store:<28} kept   {kept['count']:>6}  ({kept['exception']})")
    if outcome["status"] != "done":
        raise typer.Exit(1)
    console.print(f"verified zero everywhere: {result.get('verified_zero')}")
    console.print(f"signed with key {signed.get('key_id')} ({signed.get('algorithm')})")


def report(visitor_id: VisitorArg, timeout: Timeout = 120.0) -> None:
    """Produce a visitor's access report (counts as one of their two a year) and print it."""
    try:
        outcome = _carry_out(visitor_id, "access", timeout)
    except TooManyRequests as exc:
        console.print(f"[red]{exc.message}[/red]", highlight=False)
        raise typer.Exit(1) from None
    if outcome["status"] != "done":
        console.print(f"request {outcome['request_id']}: {outcome['status']}")
        raise typer.Exit(1)
    typer.echo(orjson.dumps(outcome, option=orjson.OPT_INDENT_2).decode())
