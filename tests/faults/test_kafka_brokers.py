"""Three Kafka brokers: one stopped under load and restarted, later another.

The pipeline (collector, worker, API) runs against three KRaft brokers; its topics have
replication factor 3 and min.insync.replicas 2, producers use acks=all with idempotence. With
one broker down the other two keep accepting writes; nothing acknowledged may be lost or
stored twice, and every consent decision the collector acknowledged reaches the ledger.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from kafka import KafkaAdminClient

from ops import stack
from ops.stack.config import StackSettings
from ops.stack.kafka_cluster import bootstrap
from tests.cluster.conftest import free_port_block
from tests.e2e.processes import free_port

from .conftest import FaultRig, build_rig
from .test_faults import SCALE, consents, run_scenario

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.cluster]
__all__ = ["consents"]
BROKERS = ["kafka-1", "kafka-2", "kafka-3"]


@pytest.fixture(scope="module")
def isolated_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackSettings]:
    """Redis and ClickHouse as in the other fault tests, and three brokers instead of one."""
    settings = StackSettings(
        stack_dir=tmp_path_factory.mktemp("stack3"),
        redis_port=free_port(),
        clickhouse_port=free_port(),
        clickhouse_http_port=free_port(),
        clickhouse_interserver_port=free_port(),
        kafka_cluster_port=free_port_block(30),
    )
    try:
        stack.up(["redis", "clickhouse"], settings=settings)
        stack.up(BROKERS, settings=settings, cluster=True)
        yield settings
    finally:
        stack.down(BROKERS, settings=settings, cluster=True)
        stack.down(["redis", "clickhouse"], settings=settings)


@pytest.fixture(scope="module")
def kafka_bootstrap(isolated_stack: StackSettings) -> str:
    return bootstrap(isolated_stack)


@pytest.fixture(scope="module")
def rig(
    isolated_stack: StackSettings, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FaultRig]:
    """The pipeline on this module's three brokers (the session's rig has one broker)."""
    yield from build_rig(isolated_stack, kafka_bootstrap, tmp_path_factory)


def test_one_broker_then_another_stopped_under_load(
    request: pytest.FixtureRequest, rig: FaultRig, kafka_bootstrap: str
) -> None:
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap.split(","))
    try:
        topics = admin.describe_topics()
    finally:
        admin.close()
    ours = [t for t in topics if t["name"].startswith(rig.env["CONSENTSTREAM_TOPIC_PREFIX"])]
    assert ours and all(len(p["replica_nodes"]) == 3 for t in ours for p in t["partitions"])

    def fault() -> None:
        for broker in ("kafka-2", "kafka-3"):
            stack.stop(broker, rig.stack)
            time.sleep(3 * SCALE)  # the load runs on two brokers
            stack.start(broker, rig.stack)
            time.sleep(2 * SCALE)

    run_scenario(request, rig, "kafka 1 of 3 down twice", fault)
