"""ClickHouse server from Debian's ``clickhouse-server`` (18.16), config generated under the stack.

The packaged config points at /var/lib and /var/log and at the ``clickhouse`` user; ours keeps
every path in the stack folder, so the server runs as whoever calls ``up`` (root in CI included).
"""

from __future__ import annotations

import os
from typing import ClassVar

from clickhouse_driver import Client
from clickhouse_driver.errors import Error as ClickHouseError

from ops.stack.base import (
    Launch,
    Progress,
    Service,
    StackError,
    find_executable,
    render_template,
)

CLICKHOUSE_FALLBACKS = (
    "/usr/sbin/clickhouse-server",
    "/usr/bin/clickhouse-server",
    "/usr/bin/clickhouse",
)


class ClickHouseService(Service):
    """Single ClickHouse server bound to the loopback address."""

    name: ClassVar[str] = "clickhouse"
    exe_names: ClassVar[tuple[str, ...]] = ("clickhouse-server", "clickhouse")

    @property
    def ports(self) -> tuple[int, ...]:
        """Native, HTTP and interserver ports."""
        s = self.settings
        return (s.clickhouse_port, s.clickhouse_http_port, s.clickhouse_interserver_port)

    def cluster_config(self) -> str:
        """XML added to config.xml: none for a single node (cluster nodes add theirs)."""
        return ""

    def prepare(self, progress: Progress) -> Launch:
        """Write config.xml and users.xml (every start, so port settings apply), make folders."""
        binary = self._binary()
        data = self.home / "data"
        for folder in ("tmp", "user_files", "format_schemas"):
            (data / folder).mkdir(parents=True, exist_ok=True)
        self.settings.logs_dir.mkdir(parents=True, exist_ok=True)
        config = self.home / "config.xml"
        config.write_text(self._config(data))
        (self.home / "users.xml").write_text(render_template("clickhouse-users.xml"))
        server = [binary] if "clickhouse-server" in os.path.basename(binary) else [binary, "server"]
        return Launch(argv=[*server, f"--config-file={config}"], cwd=self.home)

    def _binary(self) -> str:
        """Debian installs /usr/sbin/clickhouse-server; upstream ships one ``clickhouse``."""
        binary = find_executable(self.settings.clickhouse_server, CLICKHOUSE_FALLBACKS)
        if binary is None:
            raise StackError(
                f"clickhouse: {self.settings.clickhouse_server} not found; "
                "run scripts/install-system-deps.sh"
            )
        return binary

    def _config(self, data: os.PathLike[str]) -> str:
        """The server config with this stack's paths and ports."""
        tcp_port, http_port, interserver_port = self.ports
        return render_template(
            "clickhouse-config.xml",
            logs=str(self.settings.logs_dir),
            log_name=self.name,
            host=self.settings.host,
            tcp_port=str(tcp_port),
            http_port=str(http_port),
            interserver_port=str(interserver_port),
            data=os.fspath(data),
            home=str(self.home),
            cluster=self.cluster_config(),
        )

    def is_ready(self) -> bool:
        """``SELECT version()`` answered over the native protocol."""
        client = Client(
            self.settings.host,
            port=self.ports[0],
            connect_timeout=1,
            send_receive_timeout=2,
        )
        try:
            return bool(client.execute("SELECT version()"))
        except (ClickHouseError, OSError, EOFError):
            return False
        finally:
            client.disconnect()
