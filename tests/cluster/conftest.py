"""Clusters of their own: ZooKeeper and 2 x 2 ClickHouse nodes, a 3-master Redis Cluster.

Each is started once per test session (on first use) from a temporary folder on free ports and
stopped at the end; the shared single-node stack is never touched. Storage fixtures here open
the ClickHouse cluster in cluster mode (``?cluster=consentstream``), each test on a database of
its own.
"""

from __future__ import annotations

import random
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from consentstream.storage import Storage, open_storage, sql
from ops.stack import lifecycle
from ops.stack.cluster import cluster_services, cluster_url
from ops.stack.config import StackSettings
from tests.e2e.processes import free_port

pytestmark = pytest.mark.cluster
MASTERS = 3


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


@pytest.fixture(name="redis_cluster_port", scope="session")
def redis_cluster_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Three masters on free ports, joined with ``redis-cli --cluster create``; stopped after."""
    # Each master also binds its cluster bus at port + 10000.
    first = free_port_block(MASTERS, also=10_000)
    ports = list(range(first, first + MASTERS))
    servers = []
    for port in ports:
        home = Path(tmp_path_factory.mktemp(f"redis{port}"))
        argv = [
            "redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", str(home),
            "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", "2000", "--save", "", "--appendonly", "no",
        ]  # fmt: skip
        servers.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, cwd=home))
    try:
        _create(ports)
        yield ports[0]
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=10)


def _create(ports: list[int]) -> None:
    """Assign the 16384 slots over the masters and wait until the cluster says ok."""
    deadline = time.monotonic() + 30
    while not all(_ping(port) for port in ports):
        assert time.monotonic() < deadline, "redis-server did not start"
        time.sleep(0.1)
    nodes = [f"127.0.0.1:{port}" for port in ports]
    subprocess.run(
        ["redis-cli", "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    while "cluster_state:ok" not in _cli(ports[0], "CLUSTER", "INFO"):
        assert time.monotonic() < deadline, "cluster did not become ok"
        time.sleep(0.2)


def _cli(port: int, *args: str) -> str:
    done = subprocess.run(
        ["redis-cli", "-p", str(port), *args], capture_output=True, text=True, check=False
    )
    return done.stdout


def _ping(port: int) -> bool:
    return "PONG" in _cli(port, "PING")


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
