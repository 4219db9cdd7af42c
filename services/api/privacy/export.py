"""The portability CSV: a subject's data in long form, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A spreadsheet reads a cell starting with one of these as a formula (OWASP CSV injection)."""


def inert_cell(text: str) -> str:
    """``text`` as a cell no spreadsheet runs: a leading formula character gets a ``'`` first.

    Page titles, URLs and props are typed by visitors (or anyone posting events), so a title
    ``=HYPERLINK(...)`` would otherwise become a live formula in the privacy team's spreadsheet.
    """
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def export_csv(data: dict[str, list[dict[str, Any]]]) -> str:
    """Portability as one CSV in long form (table, row, field, value): any reader can load it.

    Every text cell is made inert (:func:`inert_cell`); numbers are written as they are.
    """
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["table", "row", "field", "value"])
    for table, rows in data.items():
        for index, row in enumerate(rows, start=1):
            for field, value in row.items():
                number = isinstance(value, int | float) and not isinstance(value, bool)
                text = value if isinstance(value, str) else orjson.dumps(value).decode()
                cell = text if number else inert_cell(text)
                writer.writerow([inert_cell(table), index, inert_cell(field), cell])
    return out.getvalue()
