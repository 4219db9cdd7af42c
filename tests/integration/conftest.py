"""Fixtures every integration module may use without importing them.

- ``storage``: a migrated storage on each backend (ClickHouse server, chdb) with a database of
  its own, dropped afterwards; ``chdb_path`` is the one chdb path of the session.
- ``api``: a real API process (no worker) on a database and topics of its own, with a key per
  role; a module that needs other settings defines its own ``api`` with
  :func:`~tests.integration.api_harness.start_api`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from consentstream.storage import Storage, sql

from .api_harness import Api, start_api
from .storage_fixtures import BACKENDS, open_backend


@pytest.fixture(name="chdb_path", scope="session")
def chdb_path_fixture(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One chdb data path per test session: chdb binds a process to a single path."""
    return str(tmp_path_factory.mktemp("chdb"))


@pytest.fixture(name="storage", params=BACKENDS)
def storage_fixture(request: pytest.FixtureRequest, chdb_path: str) -> Iterator[Storage]:
    """A migrated storage on each backend, its database dropped afterwards."""
    database = f"cs_test_{uuid.uuid4().hex[:12]}"
    store = open_backend(request.param, database, chdb_path)
    try:
        store.migrate()
        yield store
    finally:
        store.command(sql.statement(sql.DROP_DATABASE, database))
        store.close()


@pytest.fixture(scope="module")
def api(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The API as a user meets it, with default settings and no worker."""
    yield from start_api(stack, tmp_path_factory, worker=False)
