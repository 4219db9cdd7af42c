"""chdb backend: ClickHouse 26.x running inside this Python process.

chdb runs one embedded engine per process, bound to one data path at a time: opening a
second path while the first is open fails (translated to :class:`StorageUnavailable`).
Access is serialised with a process-wide lock, since every session shares that engine.
Inserts stream ``JSONCompactEachRow`` through ``send_insert``: the statement and the data
travel apart, so row values are parsed as data and can never be read as SQL.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import orjson
from chdb import session as chdb_session

from consentstream.storage import binding
from consentstream.storage import sql as sqltext
from consentstream.storage.base import Features, Storage, parse_version
from consentstream.storage.errors import (
    DataRefused,
    QueryError,
    StorageError,
    StorageUnavailable,
    refuses_data,
)

_ENGINE_LOCK = threading.RLock()


class EmbeddedStorage(Storage):
    """Storage in an in-process chdb session at ``path`` (a temporary directory if None)."""

    def __init__(
        self,
        *,
        url: str,
        database: str,
        path: str | None,
        usage_retention_days: int | None = None,
    ) -> None:
        self.url = url
        self.database = database
        self.usage_retention_days = usage_retention_days
        self._tmpdir = tempfile.mkdtemp(prefix="consentstream-chdb-") if path is None else None
        with _ENGINE_LOCK:
            try:
                self._session: Any = chdb_session.Session(path or self._tmpdir)  # type: ignore[no-untyped-call]
            except RuntimeError as exc:
                self._remove_tmpdir()
                raise StorageUnavailable(f"cannot open chdb at {url}: {exc}") from exc
        self.command(sqltext.SET_UTC)  # DateTime literals and computed times read as UTC
        version_text = self.query(sqltext.SERVER_VERSION)[0]["version"]
        self.server_version = parse_version(str(version_text))
        self.features = Features.for_version(self.server_version)

    def _call(self, operation: Callable[[Any], Any]) -> Any:
        with _ENGINE_LOCK:
            if self._session is None:
                raise StorageError("storage is closed")
            try:
                return operation(self._session)
            except (RuntimeError, ValueError) as exc:  # chdb's ChdbError is a RuntimeError
                raise QueryError(f"chdb refused the statement: {_first_line(exc)}") from exc

    def insert(
        self,
        table: str,
        rows: Sequence[binding.Row],
        dedup_token: str | None = None,
    ) -> None:
        """Stream rows as one JSONCompactEachRow block (see :meth:`Storage.insert`)."""
        if not rows:
            return
        try:
            payload = b"\n".join(
                orjson.dumps(row, default=self._json_value, option=orjson.OPT_PASSTHROUGH_DATETIME)
                for row in binding.row_tuples(table, rows)
            )
        except (orjson.JSONEncodeError, ValueError) as exc:  # e.g. a str that is not UTF-8
            raise DataRefused(f"a value does not fit its column: {type(exc).__name__}") from exc
        statement = sqltext.statement(sqltext.INSERT_STREAM, self.database, table)
        if dedup_token is not None and self.features.insert_dedup_token:
            statement += binding.render(sqltext.INSERT_TOKEN_SETTING, {"token": dedup_token})

        def run(session: Any) -> None:
            with session.send_insert(statement, "JSONCompactEachRow") as inserter:
                inserter.append(payload)
                inserter.finish()

        try:
            self._call(run)
        except QueryError as exc:
            code = _code(exc)
            if refuses_data(code, str(exc)):
                raise DataRefused(str(exc), code=code) from exc.__cause__
            raise

    def _json_value(self, value: Any) -> Any:
        if isinstance(value, datetime):
            text = binding.as_utc(value).strftime("%Y-%m-%d %H:%M:%S.%f")
            return text[:-3] if self.features.datetime64 else text[:-7]
        raise TypeError(f"cannot store a {type(value).__name__}")

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a SELECT and convert JSON values back to Python types by column type."""
        statement = binding.render(sql, params)
        raw = self._call(lambda session: session.query(statement, "JSONCompact").bytes())
        if not raw:
            return []
        result = orjson.loads(raw)
        names = [column["name"] for column in result["meta"]]
        converters = [_converter(column["type"]) for column in result["meta"]]
        return [
            {
                name: convert(value)
                for name, convert, value in zip(names, converters, row, strict=True)
            }
            for row in result["data"]
        ]

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Run a statement and discard its output (see :meth:`Storage.command`)."""
        statement = binding.render(sql, params)
        self._call(lambda session: session.query(statement, "Null"))

    def close(self) -> None:
        """Close the session (the engine stays up for other sessions on the same path)."""
        with _ENGINE_LOCK:
            if self._session is not None:
                self._session.close()
                self._session = None
        self._remove_tmpdir()

    def _remove_tmpdir(self) -> None:
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None


def _code(exc: BaseException) -> int | None:
    """ClickHouse's error code in a chdb message ("Code: 41. DB::Exception: ...")."""
    match = re.search(r"Code: (\d+)", str(exc))
    return int(match.group(1)) if match else None


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


Converter = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


def _inner(type_name: str, wrapper: str) -> str | None:
    prefix = f"{wrapper}("
    if type_name.startswith(prefix) and type_name.endswith(")"):
        return type_name[len(prefix) : -1]
    return None


def _converter(type_name: str) -> Converter:
    """How to turn one JSON value of ClickHouse type ``type_name`` into the Python value
    clickhouse-driver would return, so both backends give callers the same types."""
    if (inner := _inner(type_name, "LowCardinality")) is not None:
        return _converter(inner)
    if (inner := _inner(type_name, "Nullable")) is not None:
        convert = _converter(inner)
        return lambda value: None if value is None else convert(value)
    if (inner := _inner(type_name, "Array")) is not None:
        convert = _converter(inner)
        return lambda value: [convert(item) for item in value]
    return _scalar_converter(type_name)


def _scalar_converter(type_name: str) -> Converter:
    if type_name == "UUID":
        return UUID
    if type_name.startswith("DateTime"):
        # The zone is the column's own, else the session's, which is always UTC here.
        named = re.search(r"'([^']+)'", type_name)
        zone = ZoneInfo(named.group(1)) if named else UTC
        return lambda value: datetime.fromisoformat(value).replace(tzinfo=zone).astimezone(UTC)
    if type_name in ("Date", "Date32"):
        return date.fromisoformat
    if type_name.startswith(("UInt", "Int")):
        return int  # 64-bit integers may arrive quoted
    if type_name.startswith("Float"):
        return float
    return _identity
