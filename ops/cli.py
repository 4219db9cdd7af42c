"""The ``consentstream`` command line: local stack, keys, privacy operations.

The commands themselves live in :mod:`ops.cli_ops` (running the product),
:mod:`ops.cli_privacy` (data subject requests), :mod:`ops.cli_dlq` (dead letters),
:mod:`ops.cli_receipt` (checking deletion receipts) and :mod:`ops.cli_keystore` (rotating the
key store's master key);
:func:`_add_product_commands` wires them in the order ``--help`` lists them.
"""

from __future__ import annotations

import logging
import os
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ops import apps, cli_keystore, cli_ops, cli_privacy, cli_processors, stack
from ops.cli_dlq import dlq_app
from ops.cli_receipt import receipt_app
from ops.stack import cluster as stack_cluster
from ops.stack import kafka_cluster, redis_cluster, secrets

app = typer.Typer(no_args_is_help=True, help="consentstream: consent and cookie tracking.")
console = Console()
errors = Console(stderr=True)

ServiceNames = Annotated[
    list[str] | None,
    typer.Argument(help=f"Services to act on (default: all of {', '.join(stack.SERVICE_NAMES)})."),
]
Cluster = Annotated[
    bool,
    typer.Option(
        "--cluster",
        help="Cluster mode: ClickHouse as 2 shards x 2 replicas with ZooKeeper, three Kafka"
        " brokers and a 3-master Redis Cluster (the single Redis keeps the locks), from"
        " CONSENTSTREAM_CLICKHOUSE_CLUSTER_PORT, CONSENTSTREAM_ZOOKEEPER_PORT,"
        " CONSENTSTREAM_KAFKA_CLUSTER_PORT and CONSENTSTREAM_REDIS_CLUSTER_PORT.",
    ),
]
_STATE_STYLE = {"running": "green", "stopped": "dim", "unhealthy": "yellow", "port taken": "red"}


def _quiet_client_logs() -> None:
    """Readiness probes fail on purpose while a server boots; keep client-library noise away."""
    for name in ("kafka", "clickhouse_driver", "redis"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _line(status: stack.ServiceStatus) -> str:
    """One human line per service."""
    style = _STATE_STYLE.get(status.state, "white")
    state = f"[{style}]{status.name:<15}{status.state:<11}[/]"
    pid = f"pid {status.pid}" if status.pid else ""
    return f"{state} {status.address:<16}{pid:<11}{escape(status.detail)}"


def _fail(error: stack.StackError) -> typer.Exit:
    """Print a stack error on stderr and turn it into exit code 1."""
    errors.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
    return typer.Exit(code=1)


@app.callback()
def _stack_keys() -> None:
    """Commands run against the local stack use its keys, unless the environment names its own."""
    secrets.export(stack.StackSettings(), os.environ, create=False)


@app.command()
def up(services: ServiceNames = None, cluster: Cluster = False) -> None:
    """Start the local stack (Kafka, Redis, ClickHouse) in the background; idempotent.

    On first start it also makes the random keys the apps sign with, kept in the stack folder.
    """
    _quiet_client_logs()
    try:
        names = stack.resolve_names(services, cluster)
    except stack.StackError as error:
        raise _fail(error) from None
    stack.ensure_secrets()
    failed = [name for name in names if not _start_one(name)]
    if failed:
        raise typer.Exit(code=1)
    if cluster:
        _print_cluster_settings(stack.StackSettings(), names)


def _print_cluster_settings(settings: stack.StackSettings, started: list[str]) -> None:
    """The settings that point apps at the clusters just started, as shell assignments."""
    chosen: dict[str, str] = {}
    if any(name.startswith("clickhouse-") for name in started):
        chosen["CONSENTSTREAM_CLICKHOUSE_URL"] = stack_cluster.cluster_url(settings)
    if any(name.startswith("kafka-") for name in started):
        chosen["CONSENTSTREAM_KAFKA_BOOTSTRAP"] = kafka_cluster.bootstrap(settings)
    if any(name.startswith("redis-cluster-") for name in started):
        chosen.update(redis_cluster.cluster_settings(settings))
    console.print("# settings for the apps, e.g. `export` them:", highlight=False)
    for name, value in chosen.items():
        console.print(f"{name}='{value}'", highlight=False, soft_wrap=True)


def _start_one(name: str) -> bool:
    """Start one service under a spinner; print its line or its error. False on failure."""
    try:
        with console.status(f"starting {name}…") as spinner:
            result = stack.start(name, progress=lambda text: spinner.update(f"{text}…"))
    except stack.StackError as error:
        _fail(error)
        return False
    console.print(_line(result), highlight=False)
    return True


@app.command()
def down(services: ServiceNames = None, cluster: Cluster = False) -> None:
    """Stop the local stack (SIGTERM, then SIGKILL after a timeout); data is kept."""
    try:
        names = stack.resolve_names(services, cluster)
        for name in reversed(names):
            with console.status(f"stopping {name}…"):
                result = stack.stop(name)
            console.print(_line(result), highlight=False)
    except stack.StackError as error:
        raise _fail(error) from None


@app.command()
def status(cluster: Cluster = False) -> None:
    """Show the local stack and the collector, worker and API (pid, address, state).

    Exit code 1 unless every stack service runs, or when an app runs but does not answer; apps
    that are simply not started (``make up`` without ``start-apps``) are not an error.
    """
    _quiet_client_logs()
    results = stack.status(cluster=cluster)
    products = apps.app_status()
    table = Table("service", "state", "pid", "address", "detail")
    for item in results:
        _add_row(table, item)
    table.add_section()
    for item in products:
        _add_row(table, item)
    console.print(table)
    console.print(f"logs: {results[0].log.parent}", highlight=False)
    if any(item.state != "running" for item in results) or any(
        item.state == "unhealthy" for item in products
    ):
        raise typer.Exit(code=1)


def _add_row(table: Table, item: stack.ServiceStatus) -> None:
    """One row of ``status``: name, coloured state, pid, address, detail."""
    style = _STATE_STYLE.get(item.state, "white")
    state = f"[{style}]{item.state}[/]"
    table.add_row(item.name, state, str(item.pid or ""), item.address, escape(item.detail))


def _add_product_commands(target: typer.Typer) -> None:
    """Add the commands that operate the product and its privacy requests to the main CLI."""
    cli_ops.keys_app.command("rotate-master")(cli_keystore.rotate_master)
    target.add_typer(cli_ops.keys_app, name="keys")
    target.add_typer(cli_ops.audit_app, name="audit")
    target.add_typer(cli_ops.consent_app, name="consent")
    target.add_typer(cli_privacy.requests_app, name="requests")
    target.add_typer(cli_privacy.hold_app, name="hold")
    target.add_typer(cli_processors.processors_app, name="processors")
    for command in (
        cli_ops.migrate,
        cli_ops.worker,
        cli_ops.collector,
        cli_ops.api,
        cli_privacy.purge,
        cli_privacy.report,
        cli_ops.retention,
    ):
        target.command()(command)
    target.command("start-apps")(cli_ops.start_apps)
    target.command("stop-apps")(cli_ops.stop_apps)
    target.add_typer(dlq_app, name="dlq")
    target.add_typer(receipt_app, name="receipt")


_add_product_commands(app)


def main() -> None:
    """Entry point of the console script."""
    app()


if __name__ == "__main__":
    main()
