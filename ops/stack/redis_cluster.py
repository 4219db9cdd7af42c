"""Cluster mode of the local stack: a Redis Cluster of three masters of Debian's redis-server.

``consentstream up --cluster`` starts the three nodes next to the single Redis, which stays the
lock store (``CONSENTSTREAM_REDIS_LOCK_URL``: locks never go on a cluster, see
:mod:`consentstream.redis_client`). Each node runs in cluster mode with its ``nodes.conf`` in its
own folder; once the last one answers, :func:`form` assigns the 16384 slots over the three with
``redis-cli --cluster create`` the first time, and afterwards only waits until the cluster (which
finds itself again from those files) says ``ok``. Node ``i`` binds ``redis_cluster_port + i`` and
its cluster bus ``+ 10000``.
"""

from __future__ import annotations

import subprocess
import time
from typing import ClassVar

import redis

from ops.stack.base import Progress, StackError, find_executable
from ops.stack.config import StackSettings
from ops.stack.redis import RedisService

MASTERS = 3
BUS_OFFSET = 10_000
"""Redis binds a node's cluster bus at its client port + 10000."""


def node_port(settings: StackSettings, index: int) -> int:
    """Client port of node ``index`` (0-based)."""
    return settings.redis_cluster_port + index


def cluster_info(settings: StackSettings, port: int) -> dict[str, str]:
    """``CLUSTER INFO`` of one node as a mapping; empty when it does not answer."""
    client = redis.Redis(
        host=settings.host, port=port, socket_timeout=2.0, socket_connect_timeout=1.0
    )
    try:
        info = client.cluster("INFO")  # parsed by redis-py into a mapping
    except redis.RedisError:
        return {}
    finally:
        client.close()
    return {str(key): str(value) for key, value in dict(info).items()}


class RedisClusterNode(RedisService):
    """One master; subclasses made by :func:`redis_cluster_nodes` fix which."""

    index: ClassVar[int]
    last: ClassVar[bool] = False

    @property
    def ports(self) -> tuple[int, ...]:
        """Client port, then cluster bus."""
        port = node_port(self.settings, self.index)
        return (port, port + BUS_OFFSET)

    def _arguments(self) -> list[str]:
        """The single node's arguments (on this node's port), in cluster mode."""
        return [
            *super()._arguments(),
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", "2000",
        ]  # fmt: skip

    def after_ready(self, progress: Progress) -> None:
        """The last node to start joins the three into one cluster (or waits until it is ok)."""
        if self.last:
            form(self.settings, progress)

    def state_detail(self) -> str:
        """Whether the cluster this node belongs to serves every slot."""
        info = cluster_info(self.settings, self.ports[0])
        state = info.get("cluster_state", "?")
        return f"cluster {state}, {info.get('cluster_known_nodes', '?')} nodes"


def redis_cluster_nodes(settings: StackSettings) -> list[RedisClusterNode]:
    """The three masters, each a class of its own so its name keys pid, log and lock files."""
    return [
        type(
            f"RedisClusterNode{n}",
            (RedisClusterNode,),
            {"name": f"redis-cluster-{n}", "index": n - 1, "last": n == MASTERS},
        )(settings)
        for n in range(1, MASTERS + 1)
    ]


def form(settings: StackSettings, progress: Progress) -> None:
    """Assign every slot over the three masters unless done before; wait until ``ok``.

    Raises :class:`StackError` when a node does not answer or the cluster does not settle.
    """
    ports = [node_port(settings, index) for index in range(MASTERS)]
    infos = [cluster_info(settings, port) for port in ports]
    silent = [port for port, info in zip(ports, infos, strict=True) if not info]
    if silent:
        raise StackError(f"redis cluster: node(s) on port(s) {silent} not answering")
    if all(info.get("cluster_slots_assigned") == "0" for info in infos):
        progress("joining the redis cluster")
        _create(settings, ports)
    deadline = time.monotonic() + settings.ready_timeout_s
    while not _settled(settings, ports):
        if time.monotonic() > deadline:
            raise StackError(
                f"redis cluster not ok within {settings.ready_timeout_s:g} s; a node with"
                f" slots from another cluster keeps its nodes.conf under {settings.root}"
            )
        time.sleep(0.2)


def _settled(settings: StackSettings, ports: list[int]) -> bool:
    """Every node says ``ok`` and knows the others, twice in a row: after a restart the nodes
    find each other again one by one, and one may say ``ok`` while another still fails it."""
    for _ in range(2):
        for port in ports:
            info = cluster_info(settings, port)
            ok = info.get("cluster_state") == "ok"
            if not ok or info.get("cluster_known_nodes") != str(len(ports)):
                return False
        time.sleep(0.2)
    return True


def _create(settings: StackSettings, ports: list[int]) -> None:
    """``redis-cli --cluster create`` over the three masters, no replicas."""
    cli = find_executable("redis-cli", ("/usr/bin/redis-cli",))
    if cli is None:
        raise StackError("redis cluster: redis-cli not found; run scripts/install-system-deps.sh")
    nodes = [f"{settings.host}:{port}" for port in ports]
    command = [cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise StackError(f"redis cluster: {' '.join(command)} failed:\n{done.stdout}{done.stderr}")


def redis_cluster_url(settings: StackSettings) -> str:
    """``CONSENTSTREAM_REDIS_URL`` of the local cluster: its first node (the client learns the
    others)."""
    return f"redis://{settings.host}:{node_port(settings, 0)}/0"


def lock_url(settings: StackSettings) -> str:
    """``CONSENTSTREAM_REDIS_LOCK_URL`` in cluster mode: the single Redis of the stack."""
    return f"redis://{settings.host}:{settings.redis_port}/0"


def cluster_settings(settings: StackSettings) -> dict[str, str]:
    """The settings apps need to use the local Redis Cluster, as environment variables."""
    return {
        "CONSENTSTREAM_REDIS_CLUSTER": "true",
        "CONSENTSTREAM_REDIS_URL": redis_cluster_url(settings),
        "CONSENTSTREAM_REDIS_LOCK_URL": lock_url(settings),
    }
