"""Isolating refused rows: the rest of an insert is stored, only the bad rows come back."""

from __future__ import annotations

import asyncio

from consentstream.storage.errors import DataRefused, refuses_data
from streams.inserts import Refused, insert_isolating


class Table:
    """Refuses any insert holding a negative number, as an engine refuses a bad value."""

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.calls = 0

    def insert(self, rows: list[int]) -> None:
        self.calls += 1
        if any(r < 0 for r in rows):
            raise DataRefused("Code: 53. Type mismatch", code=53)
        self.rows.extend(rows)


def test_refused_rows_are_isolated_and_every_other_row_is_stored() -> None:
    table = Table()
    rows = [*range(50), -1, *range(50, 100), -2]
    refused = asyncio.run(insert_isolating("t", table.insert, rows))
    assert [r.row for r in refused] == [-1, -2]
    assert all(isinstance(r, Refused) and "Type mismatch" in r.reason for r in refused)
    assert sorted(table.rows) == list(range(100))
    assert table.calls < 30  # bisected, not row by row


def test_an_insert_without_bad_rows_is_one_call() -> None:
    table = Table()
    assert asyncio.run(insert_isolating("t", table.insert, list(range(10)))) == []
    assert table.calls == 1


def test_which_engine_errors_are_about_the_data() -> None:
    assert refuses_data(41, "Cannot parse datetime")
    assert refuses_data(252, "Too many partitions for single INSERT block (more than 100)")
    assert not refuses_data(252, "Too many parts (300). Merges are processing slower")
    assert not refuses_data(60, "Table db.t doesn't exist")
    assert not refuses_data(None, "")
