"""ClickHouse server backend over clickhouse-driver's native protocol (port 9000).

A driver ``Client`` is one synchronous connection, so this backend keeps a small pool of
them: threads (``asyncio.to_thread`` callers) each borrow one, and at most ``pool_size``
statements run at once. Driver errors are translated here, where they enter.
"""

from __future__ import annotations

import queue
import struct
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from clickhouse_driver import Client, errors

from consentstream.storage import binding
from consentstream.storage import sql as sqltext
from consentstream.storage.base import Features, ReplicaAnswer, Storage, parse_version
from consentstream.storage.errors import (
    DataRefused,
    QueryError,
    StorageError,
    StorageUnavailable,
    refuses_data,
)

T = TypeVar("T")

# Server error codes that mean "not now" rather than "never": too many simultaneous queries,
# socket timeout, network error.
_UNAVAILABLE_CODES = frozenset({202, 209, 210})
_NETWORK_ERRORS = (errors.NetworkError, errors.SocketTimeoutError, OSError, EOFError)
# What the driver's serializers raise for a value that does not fit its column (a string that
# is not UTF-8, a time outside DateTime's range packed as UInt32, ...), before any byte is sent.
_SERIALIZER_ERRORS = (TypeError, ValueError, OverflowError, struct.error)
DDL_WAIT_SECONDS = 60


class _ClientPool:
    """At most ``size`` clients, reused most-recent-first; blocks when all are busy."""

    def __init__(self, factory: Callable[[], Any], size: int, wait_seconds: float) -> None:
        self._factory = factory
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)
        self._wait_seconds = wait_seconds
        self._closed = False

    @contextmanager
    def client(self) -> Iterator[Any]:
        """Borrow a client for one operation."""
        if self._closed:
            raise StorageError("storage is closed")
        if not self._slots.acquire(timeout=self._wait_seconds):
            raise StorageUnavailable("all ClickHouse connections are busy")
        try:
            try:
                client = self._idle.get_nowait()
            except queue.Empty:
                client = self._factory()
            try:
                yield client
            finally:
                self._idle.put(client)
        finally:
            self._slots.release()

    def close(self) -> None:
        """Disconnect every idle client; clients in use are dropped when returned."""
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().disconnect()
            except queue.Empty:
                return


class ServerStorage(Storage):
    """Storage on a ClickHouse server; the version decides which SQL features are used."""

    def __init__(
        self,
        *,
        url: str,
        database: str,
        client_kwargs: Mapping[str, Any],
        pool_size: int = 4,
        usage_retention_days: int | None = None,
        cluster: str | None = None,
    ) -> None:
        self.url = url
        self.database = database
        self.usage_retention_days = usage_retention_days
        self.cluster = cluster
        kwargs = dict(client_kwargs)
        self._replica_kwargs = {k: v for k, v in kwargs.items() if k != "alt_hosts"}
        # Cluster mode: an insert returns once its rows are on a replica of their shard (not
        # queued on this node), so an acknowledged event survives this node's loss; DDL waits
        # at most a minute for nodes that are down (they run it when they return).
        # Reads and writes pick the first live replica of each shard (in_order), so a read
        # sees what this process just wrote instead of racing replication to the other one.
        self._read_settings: dict[str, Any] = {"load_balancing": "in_order"} if cluster else {}
        self._insert_settings: dict[str, Any] = (
            {**self._read_settings, "insert_distributed_sync": 1} if cluster else {}
        )
        self._command_settings: dict[str, Any] = (
            {"distributed_ddl_task_timeout": DDL_WAIT_SECONDS} if cluster else {}
        )
        # Connect to "default": our database may not exist until migrate() creates it.
        self._pool = _ClientPool(lambda: Client(**kwargs), pool_size, wait_seconds=30.0)
        version_text = self._run(lambda client: client.execute(sqltext.SERVER_VERSION)[0][0])
        self.server_version = parse_version(str(version_text))
        self.features = Features.for_version(self.server_version)

    def _run(self, operation: Callable[[Any], T]) -> T:
        with self._pool.client() as client:
            try:
                return operation(client)
            except errors.ServerException as exc:
                if exc.code in _UNAVAILABLE_CODES:
                    raise StorageUnavailable(
                        f"ClickHouse busy: {_first_line(exc.message)}"
                    ) from exc
                raise QueryError(
                    f"ClickHouse refused the statement: {_first_line(exc.message)}", code=exc.code
                ) from exc
            except _NETWORK_ERRORS as exc:
                client.disconnect()  # a half-read socket must not serve the next caller
                raise StorageUnavailable(f"ClickHouse unreachable at {self.url}: {exc}") from exc
            except errors.Error as exc:
                raise StorageError(f"ClickHouse driver error: {exc}") from exc
            except _SERIALIZER_ERRORS as exc:
                raise QueryError(f"a value does not fit its column: {type(exc).__name__}") from exc

    def _insert(self, operation: Callable[[Any], None]) -> None:
        """Run an insert; an error about the rows' values becomes :class:`DataRefused`."""
        try:
            self._run(operation)
        except StorageUnavailable:
            raise
        except StorageError as exc:
            cause = exc.__cause__
            code = getattr(cause, "code", None)
            message = getattr(cause, "message", "") or str(cause)
            if isinstance(cause, _SERIALIZER_ERRORS) or (
                isinstance(cause, errors.Error) and refuses_data(code, message)
            ):
                raise DataRefused(str(exc), code=code) from cause
            raise

    def insert(
        self,
        table: str,
        rows: Sequence[binding.Row],
        dedup_token: str | None = None,
    ) -> None:
        """Send rows as one native-protocol block (see :meth:`Storage.insert`)."""
        if not rows:
            return
        # DateTime columns (servers before DateTime64) take Unix seconds, converted here faster;
        # the block goes column by column, as the native protocol sends it.
        try:
            data = binding.row_columns(
                table, rows, epoch_seconds=not self.features.datetime64, utf8=True
            )
        # A time no Unix timestamp can hold; text no UTF-8 can (the driver refused it before).
        except (OverflowError, OSError, UnicodeEncodeError) as exc:
            raise DataRefused(f"a value does not fit its column: {type(exc).__name__}") from exc
        statement = sqltext.statement(sqltext.INSERT_VALUES, self.database, table)
        # Text goes as the UTF-8 bytes row_columns made (see there): the driver sends it as is.
        settings: dict[str, Any] = {**self._insert_settings, "strings_as_bytes": True}
        if dedup_token is not None and self.features.insert_dedup_token:
            settings["insert_deduplication_token"] = dedup_token
        self._insert(
            lambda client: client.execute(statement, data, settings=settings, columnar=True)
        )

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a SELECT (see :meth:`Storage.query`)."""
        statement = binding.render(sql, params)

        def run(client: Any) -> list[dict[str, Any]]:
            rows, columns = client.execute(
                statement, with_column_types=True, settings=self._read_settings
            )
            return _as_dicts(rows, columns, client.connection.server_info.timezone)

        return self._run(run)

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Run a statement and discard any result (see :meth:`Storage.command`)."""
        statement = binding.render(sql, params)
        settings = self._command_settings
        self._run(lambda client: client.execute(statement, settings=settings))

    def on_every_replica(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        only: Collection[str] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> list[ReplicaAnswer]:
        """Ask each node of the cluster by itself (see :meth:`Storage.on_every_replica`).

        A node that cannot be reached answers None: the caller decides whether to wait.
        """
        if not self.cluster:
            return super().on_every_replica(sql, params, only, settings)
        nodes = self.query(sqltext.CLUSTER_REPLICAS, {"cluster": self.cluster})
        if not nodes:
            raise QueryError(f"cluster {self.cluster!r} is not in this server's remote_servers")
        statement = binding.render(sql, params)
        return [
            self._ask_replica(node, statement, settings or {})
            for node in nodes
            if only is None or f"{node['host_address']}:{node['port']}" in only
        ]

    def _ask_replica(
        self, node: Mapping[str, Any], statement: str, settings: Mapping[str, Any]
    ) -> ReplicaAnswer:
        """One SELECT on one node over a connection of its own, closed afterwards."""
        address = f"{node['host_address']}:{node['port']}"
        client = Client(
            **{**self._replica_kwargs, "host": node["host_address"], "port": node["port"]}
        )
        try:
            rows, columns = client.execute(
                statement, with_column_types=True, settings=dict(settings)
            )
            answer = _as_dicts(rows, columns, client.connection.server_info.timezone)
        except _NETWORK_ERRORS + (errors.NetworkError,):
            answer = None
        except errors.ServerException as exc:
            if exc.code not in _UNAVAILABLE_CODES:
                raise QueryError(
                    f"ClickHouse node {address} refused: {_first_line(exc.message)}", code=exc.code
                ) from exc
            answer = None
        finally:
            client.disconnect()
        return ReplicaAnswer(shard=int(node["shard_num"]), address=address, rows=answer)

    def close(self) -> None:
        """Disconnect pooled clients."""
        self._pool.close()


def _first_line(message: str) -> str:
    """The error itself, without the server's stack trace."""
    return message.split("Stack trace:", 1)[0].strip().split("\n", 1)[0]


def _as_dicts(
    rows: Sequence[Sequence[Any]], columns: Sequence[tuple[str, str]], server_tz: str
) -> list[dict[str, Any]]:
    """Rows as dicts; a DateTime without its own zone is read in the server's zone, as UTC.

    Columns declared ``DateTime('UTC')`` already come back aware; only computed values
    (``now()``, ``toDateTime(...)``) need this, so the result matches the chdb backend's.
    """
    names = [name for name, _ in columns]
    naive = [
        index
        for index, (_, type_name) in enumerate(columns)
        if type_name == "DateTime" or (type_name.startswith("DateTime64(") and "," not in type_name)
    ]
    if not naive:
        return [dict(zip(names, row, strict=True)) for row in rows]
    zone = ZoneInfo(server_tz)
    out = []
    for row in rows:
        values = list(row)
        for index in naive:
            value = values[index]
            if isinstance(value, datetime) and value.tzinfo is None:
                values[index] = value.replace(tzinfo=zone).astimezone(UTC)
        out.append(dict(zip(names, values, strict=True)))
    return out
