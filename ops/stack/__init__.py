"""The local real-service stack: Kafka, Redis and ClickHouse as background processes.

``up()`` starts what is not running (idempotent), ``down()`` stops it keeping the data, and
``start(name)`` / ``stop(name)`` let fault tests bounce a single service. Everything lives under
one git-ignored folder (``.stack/``, setting ``CONSENTSTREAM_STACK_DIR``), including the random
keys ``up`` makes for the apps on first start (:mod:`ops.stack.secrets`).
"""

from __future__ import annotations

from collections.abc import Iterable

from ops.stack import lifecycle, secrets
from ops.stack.base import Progress, Service, ServiceStatus, StackError, no_progress
from ops.stack.clickhouse import ClickHouseService
from ops.stack.config import StackSettings
from ops.stack.kafka import KafkaService
from ops.stack.redis import RedisService

__all__ = [
    "SERVICE_NAMES",
    "ServiceStatus",
    "StackError",
    "StackSettings",
    "down",
    "ensure_secrets",
    "resolve_names",
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


def _service(name: str, settings: StackSettings | None) -> Service:
    """Instantiate a service by name, with a clear error for a typo."""
    resolve_names([name])
    return _SERVICES[name](settings or StackSettings())


def resolve_names(names: Iterable[str] | None) -> list[str]:
    """The requested names in start order (all when none are given), validated."""
    wanted = list(names or SERVICE_NAMES)
    unknown = [name for name in wanted if name not in _SERVICES]
    if unknown:
        choices = ", ".join(SERVICE_NAMES)
        raise StackError(f"unknown service(s) {', '.join(unknown)}; choose from {choices}")
    return [name for name in SERVICE_NAMES if name in wanted]


def start(
    name: str, settings: StackSettings | None = None, progress: Progress = no_progress
) -> ServiceStatus:
    """Start one service and wait until it answers; no-op when it already runs."""
    return lifecycle.start(_service(name, settings), progress)


def stop(name: str, settings: StackSettings | None = None) -> ServiceStatus:
    """Stop one service (SIGTERM, then SIGKILL after the timeout); data is kept."""
    return lifecycle.stop(_service(name, settings))


def up(
    names: Iterable[str] | None = None,
    settings: StackSettings | None = None,
    progress: Progress = no_progress,
) -> list[ServiceStatus]:
    """Start the named services (all by default) in a fixed order; one failure does not stop
    the others from starting, and all failures are raised together at the end."""
    settings = settings or StackSettings()
    ensure_secrets(settings)
    started: list[ServiceStatus] = []
    failures: list[str] = []
    for name in resolve_names(names):
        try:
            started.append(start(name, settings, progress))
        except StackError as error:
            failures.append(str(error))
    if failures:
        raise StackError("\n".join(failures))
    return started


def ensure_secrets(settings: StackSettings | None = None) -> dict[str, str]:
    """Make the stack's random app keys on first start (kept in its folder, mode 0600)."""
    return secrets.ensure(settings or StackSettings())


def down(
    names: Iterable[str] | None = None, settings: StackSettings | None = None
) -> list[ServiceStatus]:
    """Stop the named services (all by default), in reverse start order."""
    settings = settings or StackSettings()
    return [stop(name, settings) for name in reversed(resolve_names(names))]


def status(settings: StackSettings | None = None) -> list[ServiceStatus]:
    """State of every service, without changing anything."""
    settings = settings or StackSettings()
    return [lifecycle.status(_service(name, settings)) for name in SERVICE_NAMES]
