"""Cluster mode of the local stack: three KRaft nodes, each broker and controller, from the same
Maven Central jars as the single node.

Three controllers form the quorum, so no node answers until two of them run: the stack starts
the three together (:data:`KafkaBroker.starts_with_peers`). Internal topics keep three copies
with two in sync, like the pipeline topics (:func:`consentstream.kafka_topics.for_brokers`).
"""

from __future__ import annotations

from typing import ClassVar

from ops.stack import process
from ops.stack.config import StackSettings
from ops.stack.kafka import (
    KafkaService,
    cluster_id,
    describe_brokers,
    properties_text,
    single_node_defaults,
)

BROKERS = 3


def broker_ports(settings: StackSettings, index: int) -> tuple[int, int]:
    """Client and controller ports of broker ``index`` (0-based), ten apart per broker."""
    base = settings.kafka_cluster_port + 10 * index
    return (base, base + 1)


def bootstrap(settings: StackSettings) -> str:
    """Every broker's client address, the bootstrap list apps get in cluster mode."""
    return ",".join(
        f"{settings.host}:{broker_ports(settings, index)[0]}" for index in range(BROKERS)
    )


class KafkaBroker(KafkaService):
    """One of the three nodes; subclasses made by :func:`kafka_brokers` fix which."""

    node_id: ClassVar[int]
    starts_with_peers: ClassVar[bool] = True

    @property
    def ports(self) -> tuple[int, ...]:
        """Client listener, then controller listener."""
        return broker_ports(self.settings, self.node_id - 1)

    def server_properties(self) -> str:
        """Node id, the three-voter quorum, and replication 3 with two in sync."""
        s = self.settings
        port, ctl = self.ports
        voters = ",".join(
            f"{index + 1}@{s.host}:{broker_ports(s, index)[1]}" for index in range(BROKERS)
        )
        values = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://{s.host}:{port},CONTROLLER://{s.host}:{ctl}",
            "advertised.listeners": f"PLAINTEXT://{s.host}:{port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.home / "data"),
            "num.network.threads": "2",
            "num.io.threads": "2",
            **single_node_defaults(),
            "default.replication.factor": "3",
            "min.insync.replicas": "2",
            "offsets.topic.replication.factor": "3",
            "transaction.state.log.replication.factor": "3",
            "transaction.state.log.min.isr": "2",
            "share.coordinator.state.topic.replication.factor": "3",
            "share.coordinator.state.topic.min.isr": "2",
            "unclean.leader.election.enable": "false",
        }
        return properties_text(values)

    def cluster_id(self) -> str:
        """One id for the three nodes, written once into the stack folder."""
        path = self.settings.root / "kafka-cluster.id"
        with process.locked(self.settings.run_dir / "kafka-cluster-id.lock"):
            if not path.exists():
                path.write_text(cluster_id())
        return path.read_text().strip()

    def is_ready(self) -> bool:
        """This node is a registered, unfenced broker."""
        if not process.port_open(self.settings.host, self.ports[0]):
            return False
        brokers = describe_brokers(self.address)
        mine = [b for b in brokers or [] if b.get("broker_id") == self.node_id]
        return any(not b.get("is_fenced") for b in mine)


def kafka_brokers(settings: StackSettings) -> list[KafkaBroker]:
    """The three nodes, each a class of its own so its name keys pid, log and lock files."""
    return [
        type(f"KafkaBroker{n}", (KafkaBroker,), {"name": f"kafka-{n}", "node_id": n})(settings)
        for n in range(1, BROKERS + 1)
    ]
