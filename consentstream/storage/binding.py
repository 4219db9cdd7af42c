"""Turning Python values into SQL literals and insert rows, identically on both backends.

Escaping is clickhouse-driver's own (``clickhouse_driver.util.escape``), applied client-side
for the server and for chdb alike, so a value that is inert on one backend is inert on the
other. This module only narrows what may be bound (no arbitrary objects whose ``str()`` would
be pasted into SQL) and fixes time zones: every datetime is stored and compared as UTC.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from clickhouse_driver.util.escape import escape_params

from consentstream.storage import sql as sqltext
from consentstream.storage.errors import QueryError


class _UTCServerInfo:
    """Stands in for a server's info in the driver's escaping context: literals are UTC."""

    def get_timezone(self) -> str:
        return "UTC"


class _EscapeContext:
    server_info = _UTCServerInfo()


_CONTEXT = _EscapeContext()


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime; naive input is taken to be UTC already (rows are UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _param(value: Any) -> Any:
    """Narrow one parameter to the types the driver's escaper handles safely."""
    if value is None or isinstance(value, str | UUID):
        return value
    if isinstance(value, bool):
        return int(value)  # the escaper would emit True, which 18.16 cannot parse
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("non-finite float")
        return value
    if isinstance(value, datetime):
        # Naive UTC text, compared against DateTime('UTC') columns: the same on every server
        # whatever its own time zone.
        return as_utc(value).replace(tzinfo=None)
    if isinstance(value, date):
        return value
    if isinstance(value, list | tuple):
        return type(value)(_param(item) for item in value)
    raise TypeError(f"cannot bind a {type(value).__name__} as an SQL parameter")


def render(template: str, params: Mapping[str, Any] | None) -> str:
    """Substitute escaped ``%(name)s`` parameters into SQL; without params SQL is unchanged."""
    if params is None:
        return template
    try:
        escaped = escape_params({key: _param(value) for key, value in params.items()}, _CONTEXT)
        rendered: str = template % escaped
        return rendered
    except (TypeError, ValueError, KeyError) as exc:
        # The message names the problem, never the values (they may be personal data).
        raise QueryError(f"cannot bind parameters: {type(exc).__name__}: {exc}") from exc


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        return as_utc(value)
    return value


def row_tuples(table: str, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """Check rows carry exactly the table's columns and return them in column order."""
    try:
        columns = sqltext.column_names(table)
    except ValueError as exc:
        raise QueryError(str(exc)) from exc
    expected = set(columns)
    out: list[tuple[Any, ...]] = []
    for index, row in enumerate(rows):
        if row.keys() != expected:
            missing = sorted(expected - row.keys())
            extra = sorted(set(row.keys()) - expected)
            raise QueryError(
                f"row {index} for {table} does not match its columns:"
                f" missing {missing}, unknown {extra}"
            )
        out.append(tuple(_cell(row[name]) for name in columns))
    return out
