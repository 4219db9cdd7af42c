"""Clusters of their own: ZooKeeper and 2 x 2 ClickHouse nodes, a 3-master Redis Cluster.

Each is started once per test session (on first use) from a temporary folder on free ports and
stopped at the end; the shared single-node stack is never touched. Storage fixtures here open
the ClickHouse cluster in cluster mode (``?cluster=consentstream``), each test on a database of
its own.
"""

from __future__ import annotations

import random
import socket
import uuid
from collections.abc import Iterator
from contextlib import closing

import pytest

from consentstream.storage import Storage, open_storage, sql
from ops.stack import lifecycle, redis_cluster
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
    with lifecycle.running(cluster_services(settings)):
        yield settings


@pytest.fixture(name="redis_cluster_port", scope="session")
def redis_cluster_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The stack's three Redis Cluster masters on free ports (``up --cluster`` starts the same),
    joined into one cluster; the first node's port. Stopped after the session."""
    # Each master also binds its cluster bus at port + 10000.
    settings = StackSettings(
        stack_dir=tmp_path_factory.mktemp("redis-cluster"),
        redis_cluster_port=free_port_block(redis_cluster.MASTERS, also=redis_cluster.BUS_OFFSET),
    )
    with lifecycle.running(redis_cluster.redis_cluster_nodes(settings)):
        yield settings.redis_cluster_port


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
