"""Redis from Debian's ``redis-server``, in the foreground, detached by us.

Persistence: append-only file with fsync every second, no RDB snapshots. Redis holds state that
must survive a restart (current consent, dedupe keys, the erasure suppression list, salts), and
the fault tests restart it; AOF keeps that state with at most ~1 s lost on a hard kill.
"""

from __future__ import annotations

from typing import ClassVar

import redis

from ops.stack.base import Launch, Progress, Service, StackError, find_executable


class RedisService(Service):
    """Single Redis server bound to the loopback address."""

    name: ClassVar[str] = "redis"
    exe_names: ClassVar[tuple[str, ...]] = ("redis-server", "redis-check-rdb")
    """Debian's redis-server is a symlink to redis-check-rdb, which /proc/<pid>/exe shows."""

    @property
    def ports(self) -> tuple[int, ...]:
        """Only the client port."""
        return (self.settings.redis_port,)

    def prepare(self, progress: Progress) -> Launch:
        """Create the data folder; settings go on the command line, visible in ``ps``."""
        binary = find_executable(self.settings.redis_server, ("/usr/bin/redis-server",))
        if binary is None:
            raise StackError(
                f"redis: {self.settings.redis_server} not found; run scripts/install-system-deps.sh"
            )
        self.home.mkdir(parents=True, exist_ok=True)
        return Launch(argv=[binary, *self._arguments()], cwd=self.home)

    def _arguments(self) -> list[str]:
        """Loopback only, foreground, data in our folder, log to stdout (our log file)."""
        return [
            "--bind", self.settings.host,
            "--port", str(self.ports[0]),
            "--daemonize", "no",
            "--dir", str(self.home),
            "--logfile", "",
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", "everysec",
        ]  # fmt: skip

    def is_ready(self) -> bool:
        """PING answered on the client port."""
        client = redis.Redis(
            host=self.settings.host,
            port=self.ports[0],
            socket_timeout=1.0,
            socket_connect_timeout=1.0,
        )
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()
