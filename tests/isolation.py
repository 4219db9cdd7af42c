"""The environment of processes a test starts: topics, database and consumer group of their own.

Every suite shares one Kafka, Redis and ClickHouse with other runs at the same time, so each
process a test starts gets a random run id in its topic prefix, database name and Faust app id;
:meth:`Isolated.drop_database` removes the database afterwards.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from consentstream.storage import open_storage, sql

PREFIX = "CONSENTSTREAM_"


@dataclass(frozen=True)
class Isolated:
    """One isolated run: its names and the environment to start processes with."""

    run: str
    database: str
    topic_prefix: str
    env: dict[str, str]

    @property
    def clickhouse_url(self) -> str:
        """The storage URL of the run's own database."""
        return self.env[f"{PREFIX}CLICKHOUSE_URL"]

    def drop_database(self) -> None:
        """Remove the run's database (idempotent)."""
        with open_storage(self.clickhouse_url) as storage:
            storage.command(sql.statement(sql.DROP_DATABASE, self.database))


def isolated_env(name: str, clickhouse_url: str, **settings: object) -> Isolated:
    """``os.environ`` plus unique ``CONSENTSTREAM_*`` names for a run called ``name``.

    ``clickhouse_url`` names the server (its database is replaced); ``settings`` (lower-case
    setting names, e.g. ``worker_data_dir`` when the run starts a worker) are added, or
    override the unique names.
    """
    run = secrets.token_hex(4)
    database = f"cs_{name}_{run}"
    server = clickhouse_url.rsplit("/", 1)[0]
    env = {
        **os.environ,
        f"{PREFIX}TOPIC_PREFIX": f"{name}{run}.",
        f"{PREFIX}CLICKHOUSE_URL": f"{server}/{database}",
        f"{PREFIX}WORKER_APP_ID": f"cs-{name}-{run}",
        # One process each unless a test asks for more: the suites share two cores.
        f"{PREFIX}WORKER_PROCESSES": "1",
        f"{PREFIX}COLLECTOR_PROCESSES": "1",
        f"{PREFIX}API_PROCESSES": "1",
    }
    env.update({f"{PREFIX}{key.upper()}": str(value) for key, value in settings.items()})
    return Isolated(run, database, env[f"{PREFIX}TOPIC_PREFIX"], env)
