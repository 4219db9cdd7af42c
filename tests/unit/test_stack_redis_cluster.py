"""The local stack's Redis Cluster: where it sits in cluster mode and how its nodes are started."""

from __future__ import annotations

from pathlib import Path

from ops import stack
from ops.stack import redis_cluster
from ops.stack.config import StackSettings


def test_cluster_mode_starts_the_three_masters_after_the_lock_redis() -> None:
    names = stack.names(cluster=True)
    assert names[:4] == ("redis", "redis-cluster-1", "redis-cluster-2", "redis-cluster-3")
    assert not any(name.startswith("redis-cluster") for name in stack.names())


def test_each_master_runs_in_cluster_mode_on_its_own_port_and_folder(tmp_path: Path) -> None:
    settings = StackSettings(stack_dir=tmp_path, redis_cluster_port=7101)
    nodes = redis_cluster.redis_cluster_nodes(settings)
    assert [node.ports for node in nodes] == [(7101, 17101), (7102, 17102), (7103, 17103)]
    assert len({node.home for node in nodes}) == 3
    assert [node.last for node in nodes] == [False, False, True], "the last one joins them"
    argv = nodes[1]._arguments()
    flags = dict(zip(argv[::2], argv[1::2], strict=True))
    assert flags["--port"] == "7102" and flags["--cluster-enabled"] == "yes"
    assert flags["--cluster-config-file"] == "nodes.conf" and flags["--appendonly"] == "yes"


def test_the_printed_settings_name_a_node_and_the_single_redis_for_locks(tmp_path: Path) -> None:
    settings = StackSettings(stack_dir=tmp_path, redis_cluster_port=7101, redis_port=6390)
    assert redis_cluster.cluster_settings(settings) == {
        "CONSENTSTREAM_REDIS_CLUSTER": "true",
        "CONSENTSTREAM_REDIS_URL": "redis://127.0.0.1:7101/0",
        "CONSENTSTREAM_REDIS_LOCK_URL": "redis://127.0.0.1:6390/0",
    }
