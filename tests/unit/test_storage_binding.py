"""Insert rows: a row model goes in exactly as its ``model_dump()`` would, without the dump."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from pydantic import BaseModel

from consentstream.storage import binding, sql
from consentstream.storage.errors import QueryError
from schemas.rows import UsageEventRow
from tests.integration.storage_fixtures import consent, usage_event


def usage_row(**overrides: object) -> UsageEventRow:
    return usage_event("k", **overrides)


def test_row_models_bind_exactly_like_their_dumps() -> None:
    rows = [usage_row(), usage_row(gpc=False, dnt=True, anon_hash="0123456789abcdef")]
    from_models = binding.row_tuples(sql.USAGE_EVENTS, rows)
    assert from_models == binding.row_tuples(sql.USAGE_EVENTS, [r.model_dump() for r in rows])
    ts = from_models[0][sql.column_names(sql.USAGE_EVENTS).index("ts")]
    assert ts.utcoffset() == timedelta(0)  # stored as UTC whatever the row's zone
    assert from_models[0][-4:-2] == (1, 0)  # booleans as integers


def test_a_model_of_another_table_is_refused() -> None:
    ledger = consent("k")
    with pytest.raises(QueryError):
        binding.row_tuples(sql.USAGE_EVENTS, [ledger])


def test_a_model_whose_fields_are_not_the_columns_is_refused() -> None:
    class Partial(BaseModel):
        event_id: uuid.UUID

    with pytest.raises(QueryError):
        binding.row_tuples(sql.USAGE_EVENTS, [Partial(event_id=uuid.uuid4())])


def test_time_columns_can_go_as_unix_seconds_for_datetime_columns() -> None:
    row = usage_row()
    columns = sql.column_names(sql.USAGE_EVENTS)
    for rows in ([row], [row.model_dump()]):
        (cells,) = binding.row_tuples(sql.USAGE_EVENTS, rows, epoch_seconds=True)
        for name in ("ts", "client_ts", "received_at"):
            assert cells[columns.index(name)] == int(getattr(row, name).timestamp())
        assert cells[columns.index("event_id")] == row.event_id


def test_columns_hold_the_cells_of_the_rows_column_by_column() -> None:
    later = usage_row(gpc=False, dnt=True, anon_hash="0123456789abcdef")
    at = later.received_at + timedelta(seconds=1)
    same = usage_row(ts=at, client_ts=at)  # one object in two time columns, then another
    rows = [usage_row(), later, later.model_copy(update={"event_id": uuid.uuid4()}), same, later]
    for epoch_seconds in (False, True):
        cells = binding.row_tuples(sql.USAGE_EVENTS, rows, epoch_seconds=epoch_seconds)
        expected = [list(column) for column in zip(*cells, strict=True)]
        values = [tuple(vars(r).values()) for r in rows]  # cells in column order
        assert binding.row_tuples(sql.USAGE_EVENTS, values, epoch_seconds=epoch_seconds) == cells
        for given in (rows, [r.model_dump() for r in rows], values):
            columns = binding.row_columns(sql.USAGE_EVENTS, given, epoch_seconds=epoch_seconds)
            assert columns == expected


def test_text_can_go_as_utf8_bytes_column_by_column() -> None:
    purposes = ["necessary", "analytics"]  # rows sharing one list, as the worker's do
    rows = [
        usage_row(page_title="Pricing — “Utility” Co.", purposes=purposes),
        usage_row(purposes=purposes),
        usage_row(purposes=["necessary"]),
    ]
    values = [tuple(vars(r).values()) for r in rows]
    kinds = [kind for _, kind in sql.COLUMNS[sql.USAGE_EVENTS]]
    text = binding.row_columns(sql.USAGE_EVENTS, values, epoch_seconds=True)
    utf8 = binding.row_columns(sql.USAGE_EVENTS, values, epoch_seconds=True, utf8=True)
    for kind, column, encoded in zip(kinds, text, utf8, strict=True):
        if kind in (sql.STR, sql.LOW):
            assert encoded == [value.encode() for value in column]
        elif kind == sql.LOW_ARRAY:
            assert encoded == [[item.encode() for item in value] for value in column]
        else:
            assert encoded == column
    lone_surrogate = [tuple(vars(usage_row(page_title="\ud800")).values())]
    with pytest.raises(UnicodeEncodeError):
        binding.row_columns(sql.USAGE_EVENTS, lone_surrogate, utf8=True)


def test_columns_refuse_rows_that_are_not_the_tables() -> None:
    with pytest.raises(QueryError):
        binding.row_columns(sql.USAGE_EVENTS, [consent("k")])
    with pytest.raises(QueryError):
        binding.row_columns(sql.USAGE_EVENTS, [{"event_id": uuid.uuid4()}])


def test_cells_must_be_one_per_column_and_not_mixed_with_named_rows() -> None:
    cells = tuple(vars(usage_row()).values())
    for bind in (binding.row_columns, binding.row_tuples):
        with pytest.raises(QueryError, match="25 cells for 26 columns"):
            bind(sql.USAGE_EVENTS, [cells, cells[:-1]])
        with pytest.raises(QueryError, match="mixed"):
            bind(sql.USAGE_EVENTS, [usage_row().model_dump(), cells])
