"""A ClickHouse cluster of its own: ZooKeeper and 2 shards x 2 replicas on free ports.

Started once per test session from a temporary folder and stopped at the end; the shared
single-node stack is never touched. Storage fixtures here open that cluster in cluster mode
(``?cluster=consentstream``), each test on a database of its own.
"""

from __future__ import annotations

import random
import socket
import uuid
from collections.abc import Iterator
from contextlib import closing

import pytest

from consentstream.storage import Storage, open_storage, sql
from ops.stack import lifecycle
from ops.stack.cluster import cluster_services, cluster_url
from ops.stack.config import StackSettings
from tests.e2e.processes import free_port

pytestmark = pytest.mark.cluster


def _free(port: int) -> bool:
    with closing(socket.socket()) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_block(span: int, also: int = 0) -> int:
    """A first port such that the next ``span`` ports (and each + ``also``) are free now."""
    for _ in range(200):
        first = random.randrange(20_000, 50_000 - span)
        ports = range(first, first + span)
        if all(_free(port) and (not also or _free(port + also)) for port in ports):
            return first
    raise RuntimeError(f"no {span} consecutive free ports")


@pytest.fixture(name="cluster_stack", scope="session")
def cluster_stack_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackSettings]:
    """ZooKeeper and the four ClickHouse nodes, running; stopped after the session."""
    settings = StackSettings(
        stack_dir=tmp_path_factory.mktemp("cluster"),
        zookeeper_port=free_port(),
        clickhouse_cluster_port=free_port_block(40),
    )
    services = cluster_services(settings)
    try:
        for service in services:
            lifecycle.start(service, lambda _text: None)
        yield settings
    finally:
        for service in reversed(services):
            lifecycle.stop(service)


@pytest.fixture(name="cluster_storage")
def cluster_storage_fixture(cluster_stack: StackSettings) -> Iterator[Storage]:
    """A migrated storage in cluster mode on a fresh database, dropped on every node after."""
    database = f"cs_test_{uuid.uuid4().hex[:12]}"
    store = open_storage(cluster_url(cluster_stack, database))
    try:
        store.migrate()
        yield store
    finally:
        store.command(sql.statement(sql.DROP_DATABASE, database, cluster=store.cluster))
        store.close()


@pytest.fixture(name="storage")
def storage_fixture(cluster_storage: Storage) -> Storage:
    """The storage tests' fixture name, served by the cluster."""
    return cluster_storage
