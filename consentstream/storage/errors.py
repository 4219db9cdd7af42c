"""The storage layer's exceptions: one tree, so callers never catch a driver's error type.

Library errors (clickhouse-driver, chdb) are translated where they enter this package, with
the original kept as ``__cause__``::

    StorageError                  anything the storage layer could not do
    ├── StorageUnavailable        the database cannot be reached now; retrying later may work
    ├── QueryError                the database refused a statement or a value (a bug, not an outage)
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


class MutationTimeout(StorageError):
    """A mutation (``ALTER TABLE ... DELETE``) was still running when the wait ran out."""


class InvalidStorageURL(StorageError, ValueError):
    """The storage URL cannot be used: unknown scheme, bad database name, bad option."""
