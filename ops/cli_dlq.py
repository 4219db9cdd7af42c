"""``consentstream dlq``: dead letters of the stream worker, re-fed once the fix is deployed."""

from __future__ import annotations

import typer

from consentstream import redis_client
from consentstream.dead_letters import replay
from consentstream.settings import CommonSettings
from consentstream.topics import Topics

dlq_app = typer.Typer(no_args_is_help=True, help="Dead letters of the stream worker.")


@dlq_app.command("replay")
def replay_command() -> None:
    """Re-feed dead letters to the topic they came from (run after the fix is deployed)."""
    settings = CommonSettings()
    with redis_client.sync_client(settings) as redis:
        report = replay(
            settings.kafka_bootstrap,
            Topics(settings.topic_prefix),
            settings.pseudonym_key.get_secret_value(),
            redis=redis,
        )
    for topic, n in sorted(report.replayed.items()):
        typer.echo(f"replayed {n} to {topic}")
    typer.echo(
        f"replayed {sum(report.replayed.values())}, unreadable {report.unreadable},"
        f" left out as erased {report.erased}"
    )
