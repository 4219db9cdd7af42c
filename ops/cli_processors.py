"""``consentstream processors``: where the deletions sent to service providers stand.

Operators chase the processors that have not confirmed: this lists every delivery of every
request with one still unconfirmed, from the table the worker's retry schedule keeps.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from consentstream.settings import CommonSettings
from consentstream.storage import open_storage
from consentstream.storage.deliveries import Deliveries
from schemas.rows import ProcessorDeliveryRow

console = Console()
processors_app = typer.Typer(no_args_is_help=True, help="Deletions sent to service providers.")


def _row(table: Table, row: ProcessorDeliveryRow, now: datetime) -> None:
    late = row.status != "confirmed" and row.confirm_by <= now
    next_try = f"{row.next_attempt_at:%Y-%m-%d %H:%M}" if row.status == "pending" else ""
    table.add_row(
        row.processor,
        row.status,
        str(row.attempts),
        escape(row.last_error),
        next_try,
        f"{row.confirm_by:%Y-%m-%d %H:%M}",
        "[red]yes[/red]" if late else "",
        row.request_id,
    )


@processors_app.command("pending")
def processors_pending() -> None:
    """Deliveries of every request a processor has not confirmed yet; overdue ones marked."""
    settings = CommonSettings()
    now = datetime.now(UTC)
    table = Table("processor", "status", "attempts", "last error", "next try", "confirm by")
    table.add_column("overdue")
    table.add_column("request", no_wrap=True, min_width=32)  # ids are copied whole into show
    with open_storage(settings.clickhouse_url) as storage:
        deliveries = Deliveries(storage)
        for request_id in deliveries.unconfirmed_requests():
            for row in deliveries.of_request(request_id):
                if row.status != "confirmed":
                    _row(table, row, now)
    console.print(table)


@processors_app.command("retry")
def processors_retry(
    request_id: Annotated[str, typer.Argument(help="The deletion request's id")],
) -> None:
    """Send a request's unconfirmed deliveries again at the worker's next round.

    For a delivery that failed for good (a 401 after a secret change, a moved URL): fix the
    data map or CONSENTSTREAM_PROCESSOR_SECRETS first, restart the worker, then retry here.
    """
    settings = CommonSettings()
    now = datetime.now(UTC)
    with open_storage(settings.clickhouse_url) as storage:
        deliveries = Deliveries(storage)
        rows = [r for r in deliveries.of_request(request_id) if r.status != "confirmed"]
        if not rows:
            console.print(f"[red]no unconfirmed delivery for request {escape(request_id)}[/red]")
            raise typer.Exit(1)
        update = {"status": "pending", "next_attempt_at": now, "updated_at": now}
        deliveries.save([r.model_copy(update={**update, "version": r.version + 1}) for r in rows])
    names = ", ".join(r.processor for r in rows)
    console.print(f"{len(rows)} deliveries due again: {names}", highlight=False)
