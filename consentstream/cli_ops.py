"""CLI commands that operate the product: keys, storage migration, and running each process."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console

from consentstream.keys import new_key
from consentstream.settings import CommonSettings
from consentstream.storage import open_storage
from consentstream.storage.repository import Repository
from schemas.rows import ApiRole

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


def migrate() -> None:
    """Create the ClickHouse tables and the Kafka topics with their settings (idempotent)."""
    from streams.__main__ import prepare
    from streams.config import WorkerSettings

    settings = WorkerSettings()
    with console.status("creating tables and topics"):
        prepare(settings)
    console.print(f"storage and topics ready (prefix {settings.topic_prefix!r})", highlight=False)


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
    for command in (migrate, worker, collector, api):
        app.command()(command)
    app.command("start-apps")(start_apps)
    app.command("stop-apps")(stop_apps)
