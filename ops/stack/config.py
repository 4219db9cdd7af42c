"""Settings of the local real-service stack (``consentstream up``).

They come from ``CONSENTSTREAM_*`` variables like every other setting of the project, so CI and a
developer can move a port or the stack folder without editing code.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

KAFKA_VERSION = "4.1.1"
ZOOKEEPER_VERSION = "3.9.5"


def _default_kafka_cache() -> Path:
    """Jars live outside git and outside the stack folder, so ``rm -rf .stack`` keeps them."""
    return Path.home() / ".cache" / "consentstream" / f"kafka-{KAFKA_VERSION}" / "libs"


def _default_zookeeper_cache() -> Path:
    """ZooKeeper's jars sit next to Kafka's, outside git and the stack folder."""
    return Path.home() / ".cache" / "consentstream" / f"zookeeper-{ZOOKEEPER_VERSION}" / "libs"


class StackSettings(BaseSettings):
    """Where the stack keeps its files, which ports it binds and how long it waits."""

    model_config = SettingsConfigDict(env_prefix="CONSENTSTREAM_", extra="ignore", frozen=True)

    stack_dir: Path = Field(
        Path(".stack"),
        description="Folder (git-ignored) holding data, configs, pid files and logs of the stack.",
    )
    host: str = Field("127.0.0.1", description="Address every service listens on (loopback).")
    kafka_port: int = Field(9092, description="Kafka PLAINTEXT listener for clients.")
    kafka_controller_port: int = Field(9093, description="Kafka KRaft controller listener.")
    kafka_cache_dir: Path = Field(
        default_factory=_default_kafka_cache,
        description="Cache of the Kafka jars fetched from Maven Central; mvn is skipped if filled.",
    )
    kafka_heap: str = Field("512m", description="JVM -Xmx of the broker (small machines).")
    java: str = Field("java", description="Java 17+ executable running the broker.")
    mvn: str = Field("mvn", description="Maven executable that fetches the Kafka jars.")
    redis_port: int = Field(6379, description="Redis port.")
    redis_server: str = Field("redis-server", description="Redis server executable (Debian's).")
    clickhouse_port: int = Field(9000, description="ClickHouse native TCP port.")
    clickhouse_http_port: int = Field(8123, description="ClickHouse HTTP port.")
    clickhouse_interserver_port: int = Field(9009, description="ClickHouse interserver port.")
    clickhouse_server: str = Field(
        "clickhouse-server",
        description="ClickHouse server executable, or the all-in-one `clickhouse` binary.",
    )
    kafka_cluster_port: int = Field(
        19500,
        description="Cluster mode: first port of the three Kafka nodes; node i binds its client"
        " and controller listeners at this + 10 * i + 0, 1.",
    )
    zookeeper_port: int = Field(
        2181, description="ZooKeeper client port (cluster mode: coordinates ClickHouse replicas)."
    )
    zookeeper_cache_dir: Path = Field(
        default_factory=_default_zookeeper_cache,
        description="Cache of the ZooKeeper jars fetched from Maven Central (cluster mode).",
    )
    clickhouse_cluster_port: int = Field(
        19000,
        description="Cluster mode: first port of the 2 x 2 ClickHouse nodes; node i binds"
        " native, HTTP and interserver ports at this + 10 * i + 0, 1, 2.",
    )
    redis_cluster_port: int = Field(
        7001,
        description="Cluster mode: client port of the first of three Redis Cluster masters;"
        " node i binds this + i, and its cluster bus this + i + 10000.",
    )
    ready_timeout_s: float = Field(90.0, description="Seconds to wait for a service to answer.")
    stop_timeout_s: float = Field(20.0, description="Seconds between SIGTERM and SIGKILL.")

    @property
    def root(self) -> Path:
        """Absolute stack folder: services run with another working directory."""
        return self.stack_dir.expanduser().resolve()

    @property
    def logs_dir(self) -> Path:
        """One place for every service's log, named in error messages."""
        return self.root / "logs"

    @property
    def run_dir(self) -> Path:
        """Pid and lock files."""
        return self.root / "run"
