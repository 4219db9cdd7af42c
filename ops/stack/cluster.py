"""Cluster mode of the local stack: ZooKeeper and 2 shards x 2 replicas of ClickHouse.

``consentstream up --cluster`` starts these next to Redis and Kafka. Every node gets the same
``remote_servers`` (cluster ``consentstream``), its own ``macros`` (shard, replica) and the
ZooKeeper address; apps reach the cluster with
``clickhouse://127.0.0.1:<first node>/db?cluster=consentstream``.
"""

from __future__ import annotations

from typing import ClassVar

from clickhouse_driver import Client
from clickhouse_driver.errors import Error as ClickHouseError

from ops.stack.base import Service
from ops.stack.clickhouse import ClickHouseService
from ops.stack.config import StackSettings
from ops.stack.zookeeper import ZooKeeperService

CLUSTER_NAME = "consentstream"
SHARDS = 2
REPLICAS = 2


class ClickHouseNode(ClickHouseService):
    """One replica of one shard; subclasses made by :func:`clickhouse_nodes` fix which."""

    shard: ClassVar[int]
    replica: ClassVar[int]

    @property
    def index(self) -> int:
        """Position of the node in the cluster, 0 to SHARDS * REPLICAS - 1."""
        return (self.shard - 1) * REPLICAS + (self.replica - 1)

    @property
    def ports(self) -> tuple[int, ...]:
        """Native, HTTP and interserver ports, ten apart per node."""
        return node_ports(self.settings, self.index)

    def is_ready(self) -> bool:
        """Answers and has its ZooKeeper session: 18.16 crashes (NULL session) on ON CLUSTER
        DDL or replicated writes that arrive before the session exists."""
        client = Client(
            self.settings.host, port=self.ports[0], connect_timeout=1, send_receive_timeout=3
        )
        try:
            return bool(client.execute("SELECT count() FROM system.zookeeper WHERE path = '/'"))
        except (ClickHouseError, OSError, EOFError):
            return False
        finally:
            client.disconnect()

    def cluster_config(self) -> str:
        """remote_servers, this node's macros, ZooKeeper and the DDL queue."""
        s = self.settings
        return "\n".join(
            [
                "    <remote_servers>",
                f"        <{CLUSTER_NAME}>{_shards_xml(s)}</{CLUSTER_NAME}>",
                "    </remote_servers>",
                f"    <macros><shard>{self.shard:02d}</shard>"
                f"<replica>{s.host}-{self.ports[0]}</replica></macros>",
                "    <zookeeper><node>"
                f"<host>{s.host}</host><port>{s.zookeeper_port}</port></node>"
                "<session_timeout_ms>10000</session_timeout_ms></zookeeper>",
                "    <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>",
            ]
        )


def node_ports(settings: StackSettings, index: int) -> tuple[int, int, int]:
    """Ports of node ``index``: native, HTTP, interserver."""
    base = settings.clickhouse_cluster_port + 10 * index
    return (base, base + 1, base + 2)


def _shards_xml(settings: StackSettings) -> str:
    """Every shard with its replicas; writes go to one replica, replication copies them."""
    shards = []
    for shard in range(SHARDS):
        replicas = "".join(
            f"<replica><host>{settings.host}</host>"
            f"<port>{node_ports(settings, shard * REPLICAS + replica)[0]}</port></replica>"
            for replica in range(REPLICAS)
        )
        shards.append(f"<shard><internal_replication>true</internal_replication>{replicas}</shard>")
    return "".join(shards)


def clickhouse_nodes(settings: StackSettings) -> list[ClickHouseNode]:
    """The four nodes, each a class of its own so its name keys pid, log and lock files."""
    nodes: list[ClickHouseNode] = []
    for shard in range(1, SHARDS + 1):
        for replica in range(1, REPLICAS + 1):
            name = f"clickhouse-{shard}-{replica}"
            attributes = {"name": name, "shard": shard, "replica": replica}
            node_class = type(f"ClickHouseNode{shard}{replica}", (ClickHouseNode,), attributes)
            nodes.append(node_class(settings))
    return nodes


def cluster_services(settings: StackSettings) -> list[Service]:
    """ZooKeeper first (the nodes connect at start), then the ClickHouse nodes."""
    return [ZooKeeperService(settings), *clickhouse_nodes(settings)]


def cluster_url(settings: StackSettings, database: str = "consentstream") -> str:
    """The storage URL of the local cluster: first node, the others as fail-over hosts."""
    first, *others = (node_ports(settings, index)[0] for index in range(SHARDS * REPLICAS))
    alt = ",".join(f"{settings.host}:{port}" for port in others)
    return f"clickhouse://{settings.host}:{first}/{database}?cluster={CLUSTER_NAME}&alt_hosts={alt}"
