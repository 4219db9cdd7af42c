"""Text cells as UTF-8 bytes, for a clickhouse-driver insert told ``strings_as_bytes``.

The driver's own encoding of a ``str`` costs ~0.18 µs a cell (even an empty one), four times
``str.encode`` mapped over a column; the bytes are the same (UTF-8 is the driver's default).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def utf8_column(values: Sequence[Any]) -> list[Any]:
    """A string column's cells as UTF-8 bytes (anything else, which the driver refuses, as is).

    Raises ``UnicodeEncodeError`` for a string no UTF-8 can hold (a lone surrogate), as the
    driver's own encoding would.
    """
    try:
        return list(map(str.encode, values))
    except TypeError:  # a cell that is not a str: left for the driver to refuse
        return [v.encode() if type(v) is str else v for v in values]


def utf8_arrays(values: Sequence[Any]) -> list[Any]:
    """:func:`utf8_column` over each array of an array column, once per distinct array object.

    Rows often share one list (a decision's purposes), and every list stays alive in
    ``values`` meanwhile, so its ``id`` names it.
    """
    done: dict[int, Any] = {}
    out: list[Any] = []
    for value in values:
        encoded = done.get(id(value))
        if encoded is None:
            is_array = isinstance(value, list | tuple)
            encoded = done[id(value)] = utf8_column(value) if is_array else value
        out.append(encoded)
    return out
