"""The storage layer's exceptions: one tree, so callers never catch a driver's error type.

Library errors (clickhouse-driver, chdb) are translated where they enter this package, with
the original kept as ``__cause__``::

    StorageError                  anything the storage layer could not do
    ├── StorageUnavailable        the database cannot be reached now; retrying later may work
    ├── QueryError                the database refused a statement or a value (a bug, not an outage)
    │   └── DataRefused           an insert's rows hold a value the engine refuses (a bad row,
    │                             not a bad statement): the same rows fail every time, others
    │                             may go in, so callers isolate the offending rows
    ├── MutationTimeout           a delete was accepted but did not finish within the wait
    └── InvalidStorageURL         the storage URL is malformed or names an unknown backend
                                  (also a ValueError: it is bad configuration)

Messages written here never include row values or bound parameters (they may be personal
data, and errors end up in logs); the engine's own first error line is kept for diagnosis and
can quote SQL, so log these messages at most, never return them to a visitor.
"""

from __future__ import annotations


class StorageError(Exception):
    """Base of every storage failure, so one ``except`` covers the whole layer."""


class StorageUnavailable(StorageError):
    """The database could not be reached (refused, timed out, closed); the caller may retry."""


class QueryError(StorageError):
    """The database rejected a statement, a parameter or a row; retrying will not help.

    ``code`` is ClickHouse's numeric error code when the database reported one.
    """

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class DataRefused(QueryError):
    """The engine refused an insert because of the values in its rows (type, range, size, text).

    Retrying the same rows never helps; an insert of other rows may succeed. Raised by
    ``Storage.insert`` only; ``code`` is ClickHouse's error code when one was reported.
    """


# ClickHouse error codes (ErrorCodes.cpp, the same on 18.16 and current releases) that mean a
# value in the data could not be parsed, converted or fitted to its column.
REFUSED_DATA_CODES = frozenset(
    {
        6,  # CANNOT_PARSE_TEXT
        25,  # CANNOT_PARSE_ESCAPE_SEQUENCE
        26,  # CANNOT_PARSE_QUOTED_STRING
        27,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
        38,  # CANNOT_PARSE_DATE
        41,  # CANNOT_PARSE_DATETIME
        53,  # TYPE_MISMATCH (also the driver's own, for a value its serializer cannot pack)
        69,  # ARGUMENT_OUT_OF_BOUND
        70,  # CANNOT_CONVERT_TYPE
        72,  # CANNOT_PARSE_NUMBER
        117,  # INCORRECT_DATA
        128,  # TOO_LARGE_ARRAY_SIZE
        130,  # CANNOT_READ_ARRAY_FROM_TEXT
        131,  # TOO_LARGE_STRING_SIZE
        190,  # SIZES_OF_ARRAYS_DOESNT_MATCH
        321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
        349,  # CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
        376,  # CANNOT_PARSE_UUID
        407,  # DECIMAL_OVERFLOW
        441,  # CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING
        467,  # CANNOT_PARSE_BOOL
        469,  # VIOLATED_CONSTRAINT
    }
)
TOO_MANY_PARTS = 252
"""Also "too many partitions for a single INSERT block": rows spread over too many months;
a smaller block goes in. The same code means "too many parts, merges are behind": transient."""


def refuses_data(code: int | None, message: str) -> bool:
    """Whether an insert's error (ClickHouse code and message) is about the rows' values."""
    if code == TOO_MANY_PARTS:
        return "single INSERT block" in message
    return code in REFUSED_DATA_CODES


class MutationTimeout(StorageError):
    """A mutation (``ALTER TABLE ... DELETE``) was still running when the wait ran out."""


class InvalidStorageURL(StorageError, ValueError):
    """The storage URL cannot be used: unknown scheme, bad database name, bad option."""
