"""The storage interface every backend implements, and the features read from its version.

Callers (stream sink, API, purge jobs) depend on :class:`Storage` only, so the same code runs
against a ClickHouse server (old 18.16 here, a current LTS in production) and in-process chdb.
What differs between engine versions is captured once, in :class:`Features`.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from consentstream.storage import binding, sql
from consentstream.storage.errors import StorageError

# First ClickHouse release where each feature is usable without experimental switches.
# Sources: the ClickHouse changelogs (2019, 2020, 2022, 2023).
LOW_CARDINALITY_SINCE = (19, 3)  # 18.12 added it behind allow_experimental_low_cardinality_type
TTL_SINCE = (19, 6)  # column and table TTL
DATETIME64_SINCE = (20, 1)
INSERT_DEDUP_TOKEN_SINCE = (22, 2)  # insert_deduplication_token setting
LIGHTWEIGHT_DELETE_SINCE = (23, 3)  # DELETE FROM; 22.8-23.2 only behind an experimental flag


@dataclass(frozen=True, slots=True)
class Features:
    """What the connected engine supports, so SQL uses new features only where present."""

    low_cardinality: bool
    ttl: bool
    datetime64: bool
    insert_dedup_token: bool
    lightweight_delete: bool

    @classmethod
    def for_version(cls, version: tuple[int, ...]) -> Features:
        """Derive the features from a ``(major, minor, ...)`` server version."""
        major_minor = version[:2]
        return cls(
            low_cardinality=major_minor >= LOW_CARDINALITY_SINCE,
            ttl=major_minor >= TTL_SINCE,
            datetime64=major_minor >= DATETIME64_SINCE,
            insert_dedup_token=major_minor >= INSERT_DEDUP_TOKEN_SINCE,
            lightweight_delete=major_minor >= LIGHTWEIGHT_DELETE_SINCE,
        )


@dataclass(frozen=True, slots=True)
class ReplicaAnswer:
    """One replica's rows, and which shard it serves (for sums over shards)."""

    shard: int
    address: str
    rows: list[dict[str, Any]] | None
    """None when the replica could not be reached: nothing is confirmed for it."""


def parse_version(text: str) -> tuple[int, ...]:
    """Turn ``version()`` output such as ``'18.16.1'`` or ``'26.9.2.1'`` into a tuple."""
    match = re.match(r"^\s*(\d+(?:\.\d+)*)", text)
    if match is None:
        raise StorageError(f"unrecognised ClickHouse version string {text!r}")
    return tuple(int(part) for part in match.group(1).split("."))


class Storage(ABC):
    """A ClickHouse-compatible store: schema migration, inserts, queries, commands.

    SQL passed to :meth:`query` and :meth:`command` uses clickhouse-driver's ``%(name)s``
    placeholders on every backend; values are escaped by the storage layer, never formatted
    in by callers (with params, a literal ``%`` is written ``%%``). Methods are synchronous
    and thread-safe: async callers use ``asyncio.to_thread``.
    """

    url: str
    """The URL the storage was opened with, password removed (safe to log)."""
    database: str
    """The database holding the tables, from the URL path."""
    server_version: tuple[int, ...]
    features: Features
    usage_retention_days: int | None
    """When set and the engine has TTL, usage events expire after this many days."""
    cluster: str | None = None
    """Cluster mode: the ClickHouse cluster name; tables are replicated and read through
    Distributed tables, DDL runs ``ON CLUSTER``. None for a single node."""

    def migrate(self) -> None:
        """Create the database and tables if missing; safe to run at every start-up.

        Tables that already exist are left as they are (no ALTER): a schema change needs an
        explicit migration step.
        """
        features = self.features
        for statement in sql.schema_statements(
            self.database,
            low_cardinality=features.low_cardinality,
            datetime64=features.datetime64,
            ttl_days=self.usage_retention_days if features.ttl else None,
            dedup_window=features.insert_dedup_token,
            cluster=self.cluster,
        ):
            self.command(statement)

    @abstractmethod
    def insert(
        self,
        table: str,
        rows: Sequence[binding.Row],
        dedup_token: str | None = None,
    ) -> None:
        """Insert complete rows (mappings or row models) into a known table, as one block.

        ``dedup_token`` makes a retried block a no-op where the engine supports it
        (``features.insert_dedup_token``); elsewhere ReplacingMergeTree removes duplicates at
        merge time and ``FINAL`` hides them earlier. A token must identify the block's
        content: the engine silently drops a *different* block sent with a used token.
        """

    @abstractmethod
    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a SELECT and return its rows as dicts (UUIDs, aware UTC datetimes, lists)."""

    @abstractmethod
    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Run a statement whose result is not needed (DDL, ALTER, OPTIMIZE, DELETE)."""

    def on_every_replica(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        only: Collection[str] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> list[ReplicaAnswer]:
        """Run a statement on each node by itself: one answer per replica of every shard.

        What a single node answers is the only answer; cluster backends ask every replica
        directly, so a caller can wait until all of them agree (mutations done, rows gone).
        ``only`` limits the nodes to these addresses (``host:port``, as answers name them);
        ``settings`` are ClickHouse settings for the statement (cluster backends only).
        """
        return [ReplicaAnswer(shard=1, address=self.url, rows=self.query(sql, params))]

    @abstractmethod
    def close(self) -> None:
        """Release connections; later calls raise :class:`StorageError`."""

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
