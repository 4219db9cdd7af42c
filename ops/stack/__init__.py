"""The local real-service stack: Kafka, Redis and ClickHouse as background processes.

``up()`` starts what is not running (idempotent), ``down()`` stops it keeping the data, and
``start(name)`` / ``stop(name)`` let fault tests bounce a single service. With ``cluster=True``
ClickHouse runs as 2 shards x 2 replicas coordinated by ZooKeeper (:mod:`.cluster`), Kafka as three
brokers (:mod:`.kafka_cluster`) and Redis as a 3-master Redis Cluster next to the single Redis,
which keeps the locks (:mod:`.redis_cluster`).
Everything lives under one git-ignored folder (``.stack/``, setting ``CONSENTSTREAM_STACK_DIR``),
including the random keys ``up`` makes for the apps on first start (:mod:`ops.stack.secrets`).
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from ops.stack import lifecycle, secrets
from ops.stack.base import Progress, Service, ServiceStatus, StackError, no_progress
from ops.stack.clickhouse import ClickHouseService
from ops.stack.cluster import cluster_services
from ops.stack.config import StackSettings
from ops.stack.kafka import KafkaService
from ops.stack.kafka_cluster import kafka_brokers
from ops.stack.redis import RedisService
from ops.stack.redis_cluster import redis_cluster_nodes

__all__ = [
    "SERVICE_NAMES",
    "ServiceStatus",
    "StackError",
    "StackSettings",
    "down",
    "ensure_secrets",
    "names",
    "resolve_names",
    "services",
    "start",
    "status",
    "stop",
    "up",
]

_SERVICES: dict[str, type[Service]] = {
    "redis": RedisService,
    "clickhouse": ClickHouseService,
    "kafka": KafkaService,
}
SERVICE_NAMES: tuple[str, ...] = tuple(_SERVICES)
"""Start order; ``down`` stops in reverse."""


def services(settings: StackSettings, cluster: bool = False) -> list[Service]:
    """Every service in start order; cluster mode adds the Redis Cluster and swaps ClickHouse and
    Kafka for their clusters."""
    single = [service_class(settings) for service_class in _SERVICES.values()]
    if not cluster:
        return single
    return [
        single[0],
        *redis_cluster_nodes(settings),
        *cluster_services(settings),
        *kafka_brokers(settings),
    ]


def names(cluster: bool = False) -> tuple[str, ...]:
    """Service names in start order."""
    return tuple(service.name for service in services(StackSettings(), cluster))


def _service(name: str, settings: StackSettings | None) -> Service:
    """Instantiate a service by name (cluster nodes included), with a clear error for a typo."""
    settings = settings or StackSettings()
    found = {service.name: service for service in services(settings, cluster=True)}
    found.update((service.name, service) for service in services(settings))
    resolve_names([name], cluster=name not in _SERVICES)
    return found[name]


def resolve_names(wanted: Iterable[str] | None, cluster: bool = False) -> list[str]:
    """The requested names in start order (all when none are given), validated."""
    order = names(cluster)
    chosen = list(wanted or order)
    unknown = [name for name in chosen if name not in order]
    if unknown:
        choices = ", ".join(order)
        raise StackError(f"unknown service(s) {', '.join(unknown)}; choose from {choices}")
    return [name for name in order if name in chosen]


def start(
    name: str, settings: StackSettings | None = None, progress: Progress = no_progress
) -> ServiceStatus:
    """Start one service and wait until it answers; no-op when it already runs."""
    return lifecycle.start(_service(name, settings), progress)


def stop(name: str, settings: StackSettings | None = None) -> ServiceStatus:
    """Stop one service (SIGTERM, then SIGKILL after the timeout); data is kept."""
    return lifecycle.stop(_service(name, settings))


def up(
    wanted: Iterable[str] | None = None,
    settings: StackSettings | None = None,
    progress: Progress = no_progress,
    cluster: bool = False,
) -> list[ServiceStatus]:
    """Start the named services (all by default) in a fixed order; one failure does not stop
    the others from starting, and all failures are raised together at the end."""
    settings = settings or StackSettings()
    ensure_secrets(settings)
    started: list[ServiceStatus] = []
    failures: list[str] = []
    for group in _start_groups(resolve_names(wanted, cluster), settings):
        with ThreadPoolExecutor(max_workers=len(group)) as pool:
            futures = [pool.submit(start, name, settings, progress) for name in group]
        for future in futures:
            try:
                started.append(future.result())
            except StackError as error:
                failures.append(str(error))
    if failures:
        raise StackError("\n".join(failures))
    return started


def ensure_secrets(settings: StackSettings | None = None) -> dict[str, str]:
    """Make the stack's random app keys on first start (kept in its folder, mode 0600)."""
    return secrets.ensure(settings or StackSettings())


def _start_groups(chosen: list[str], settings: StackSettings) -> list[list[str]]:
    """Names in start order, one per group, except peers that only answer together (a KRaft
    quorum of three) which share a group and start at once."""
    peers = {
        s.name for s in services(settings, cluster=True) if getattr(s, "starts_with_peers", False)
    }
    groups: list[list[str]] = []
    for name in chosen:
        if name in peers and groups and groups[-1][0] in peers:
            groups[-1].append(name)
        else:
            groups.append([name])
    return groups


def down(
    wanted: Iterable[str] | None = None,
    settings: StackSettings | None = None,
    cluster: bool = False,
) -> list[ServiceStatus]:
    """Stop the named services (all by default), in reverse start order."""
    settings = settings or StackSettings()
    return [stop(name, settings) for name in reversed(resolve_names(wanted, cluster))]


def status(settings: StackSettings | None = None, cluster: bool = False) -> list[ServiceStatus]:
    """State of every service, without changing anything."""
    settings = settings or StackSettings()
    return [lifecycle.status(service) for service in services(settings, cluster)]
