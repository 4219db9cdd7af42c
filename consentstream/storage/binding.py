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
from operator import attrgetter
from typing import Any
from uuid import UUID

from clickhouse_driver.util.escape import escape_params
from pydantic import BaseModel

from consentstream.storage import sql as sqltext
from consentstream.storage.errors import QueryError
from consentstream.storage.utf8 import utf8_arrays, utf8_column


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


Row = Mapping[str, Any] | BaseModel | tuple[Any, ...]
"""An insert row: a mapping of column name to value, a row model whose fields are the columns,
or a plain tuple of the cells in column order (what the stream worker builds per event)."""

# Column kinds whose values _cell may change (bool to int, datetime to UTC); others pass as-is.
_CONVERTED_KINDS = frozenset({sqltext.BOOL, sqltext.TIME})


def _epoch_cell(value: Any) -> Any:
    """A datetime as whole Unix seconds (what the driver sends for a ``DateTime``), else as is."""
    if isinstance(value, datetime):  # an aware datetime needs no conversion to UTC first
        return int((value if value.tzinfo else as_utc(value)).timestamp())
    return _cell(value)


def row_tuples(
    table: str, rows: Sequence[Row], *, epoch_seconds: bool = False
) -> list[tuple[Any, ...]]:
    """Check rows carry exactly the table's columns and return them in column order.

    Row models (``schemas.rows``) are read field by field without ``model_dump()``, which cost
    more than the insert itself: their fields are checked once per model class, not per row.
    ``epoch_seconds`` turns the datetimes of time columns into whole Unix seconds, for a
    ``DateTime`` (not ``DateTime64``) column: clickhouse-driver does the same conversion
    itself, but through pytz at ~1 µs a value.
    """
    columns = _column_names(table)
    if rows and all(isinstance(row, BaseModel) for row in rows):
        out = _model_tuples(table, columns, rows, epoch_seconds)  # type: ignore[arg-type]
    elif rows and all(type(row) is tuple for row in rows):
        given: Sequence[tuple[Any, ...]] = rows  # type: ignore[assignment]
        out = _converted_tuples(table, _checked_cells(table, columns, given), epoch_seconds)
    else:
        out = _mapping_tuples(table, columns, rows)
        if epoch_seconds:
            out = _with_epoch_seconds(table, out)
    return out


def _column_names(table: str) -> tuple[str, ...]:
    try:
        return sqltext.column_names(table)
    except ValueError as exc:
        raise QueryError(str(exc)) from exc


def row_columns(
    table: str, rows: Sequence[Row], *, epoch_seconds: bool = False, utf8: bool = False
) -> list[list[Any]]:
    """The cells of :func:`row_tuples`, one list per column in column order (a columnar insert).

    Same checks and the same cells, but built column by column: no tuple per row here and no
    turning rows into columns in clickhouse-driver (``execute(..., columnar=True)``), which
    together cost more than a third of the insert's client-side CPU for usage events.
    ``utf8`` gives the text of string columns (arrays of strings included) as UTF-8 bytes,
    for a driver told ``strings_as_bytes`` (:mod:`consentstream.storage.utf8`).
    """
    columns = _column_names(table)
    if rows and all(isinstance(row, BaseModel) for row in rows):
        models: Sequence[BaseModel] = rows  # type: ignore[assignment]
        _check_models(table, columns, models)
        # A model's field values are its __dict__ (checked above to be exactly the columns).
        fields = [vars(row) for row in models]
        cells = [[values[name] for values in fields] for name in columns]
    elif rows and all(type(row) is tuple for row in rows):
        # Cells already in column order: zip turns the rows into columns in C.
        tuples: Sequence[tuple[Any, ...]] = rows  # type: ignore[assignment]
        checked = _checked_cells(table, columns, tuples)
        cells = [list(column) for column in zip(*checked, strict=True)]
    else:
        mappings = _checked_mappings(table, columns, rows)
        cells = [[fields[name] for fields in mappings] for name in columns]
    times: tuple[list[Any], list[Any]] | None = None  # the last time column, given and sent
    for i, (_, kind) in enumerate(sqltext.COLUMNS[table]):
        if kind == sqltext.TIME and epoch_seconds:
            given, cells[i] = cells[i], _epoch_column(cells[i], times)
            times = (given, cells[i])
        elif kind == sqltext.TIME:
            cells[i] = list(map(_cell, cells[i]))
        elif kind == sqltext.BOOL:
            cells[i] = [1 if v is True else 0 if v is False else _cell(v) for v in cells[i]]
        elif utf8 and kind in _TEXT_KINDS:
            cells[i] = utf8_column(cells[i])
        elif utf8 and kind == sqltext.LOW_ARRAY:
            cells[i] = utf8_arrays(cells[i])
    return cells


_TEXT_KINDS = frozenset({sqltext.STR, sqltext.LOW})


def _epoch_column(values: list[Any], before: tuple[list[Any], list[Any]] | None) -> list[Any]:
    """:func:`_epoch_cell` over a column.

    Rows often hold one datetime object several times, and ``timestamp()`` through pydantic's
    time zone costs ~0.5 µs: a request's events share their receipt time (a cell that is the
    previous one's object reuses its seconds), and an event whose time needed no correction
    holds the same object as its client time (a cell that is the same row's object in the
    time column ``before``, given and converted, reuses that one's seconds).
    """
    out: list[Any] = []
    last: Any = None
    seconds: Any = None
    given, sent = before if before is not None else ((), ())
    for i, value in enumerate(values):
        if value is last:
            pass
        elif given and given[i] is value:
            last, seconds = value, sent[i]
        elif type(value) is datetime and value.tzinfo is not None:  # _epoch_cell, inline
            last, seconds = value, int(value.timestamp())
        else:
            last, seconds = value, _epoch_cell(value)
        out.append(seconds)
    return out


def _mapping_tuples(
    table: str, columns: tuple[str, ...], rows: Sequence[Row]
) -> list[tuple[Any, ...]]:
    return [
        tuple(_cell(fields[name]) for name in columns)
        for fields in _checked_mappings(table, columns, rows)
    ]


def _checked_mappings(
    table: str, columns: tuple[str, ...], rows: Sequence[Row]
) -> list[Mapping[str, Any]]:
    """Each row as a mapping of exactly the table's columns (a model dumped), else refused."""
    expected = set(columns)
    out: list[Mapping[str, Any]] = []
    for index, row in enumerate(rows):
        if isinstance(row, tuple):
            raise QueryError(f"row {index} for {table}: cells mixed with named rows")
        fields = row.model_dump() if isinstance(row, BaseModel) else row
        if fields.keys() != expected:
            missing = sorted(expected - fields.keys())
            extra = sorted(set(fields.keys()) - expected)
            raise QueryError(
                f"row {index} for {table} does not match its columns:"
                f" missing {missing}, unknown {extra}"
            )
        out.append(fields)
    return out


def _time_columns(table: str) -> list[int]:
    return [i for i, (_, kind) in enumerate(sqltext.COLUMNS[table]) if kind == sqltext.TIME]


def _with_epoch_seconds(table: str, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    times = _time_columns(table)
    out: list[tuple[Any, ...]] = []
    for row in rows:
        cells = list(row)
        for i in times:
            cells[i] = _epoch_cell(cells[i])
        out.append(tuple(cells))
    return out


def _checked_cells(
    table: str, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
) -> Sequence[tuple[Any, ...]]:
    """Rows given as cells, refused unless each has one per column (zip would cut them)."""
    width = len(columns)
    for index, row in enumerate(rows):
        if len(row) != width:
            raise QueryError(f"row {index} for {table} has {len(row)} cells for {width} columns")
    return rows


def _check_models(table: str, columns: tuple[str, ...], rows: Sequence[BaseModel]) -> None:
    checked: set[type[BaseModel]] = set()
    for row in rows:
        kind = type(row)
        if kind not in checked:
            if tuple(kind.model_fields) != columns:
                raise QueryError(f"{kind.__name__} rows do not match the columns of {table}")
            checked.add(kind)


def _model_tuples(
    table: str, columns: tuple[str, ...], rows: Sequence[BaseModel], epoch_seconds: bool
) -> list[tuple[Any, ...]]:
    _check_models(table, columns, rows)
    values = attrgetter(*columns)
    return _converted_tuples(table, [values(row) for row in rows], epoch_seconds)


def _converted_tuples(
    table: str, rows: Sequence[tuple[Any, ...]], epoch_seconds: bool
) -> list[tuple[Any, ...]]:
    """Rows of cells in column order with their bools and times converted (see _cell)."""
    time_cell = _epoch_cell if epoch_seconds else _cell
    converters = [
        (i, time_cell if kind == sqltext.TIME else _cell)
        for i, (_, kind) in enumerate(sqltext.COLUMNS[table])
        if kind in _CONVERTED_KINDS
    ]
    out: list[tuple[Any, ...]] = []
    for row in rows:
        cells = list(row)
        for i, convert in converters:
            cells[i] = convert(cells[i])
        out.append(tuple(cells))
    return out
