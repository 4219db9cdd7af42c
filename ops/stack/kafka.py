"""Apache Kafka 4.1.1 in KRaft mode, one combined broker+controller, from Maven Central jars.

There is no Kafka package in Debian and no Docker here: mvn copies ``kafka_2.13`` and its runtime
dependencies into a cache outside git once, and the machine's Java 17 runs ``kafka.Kafka``.
"""

from __future__ import annotations

import base64
import subprocess
import uuid
import warnings
from pathlib import Path
from typing import Any, ClassVar

from ops.stack import maven, process
from ops.stack.base import (
    Launch,
    Progress,
    Service,
    StackError,
    find_executable,
    render_template,
)
from ops.stack.config import KAFKA_VERSION, StackSettings

MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"


class KafkaService(Service):
    """Single-node KRaft cluster tuned for tests, replication factor 1.

    Topics are created by ``consentstream migrate`` and the worker, never implicitly.
    """

    name: ClassVar[str] = "kafka"
    exe_names: ClassVar[tuple[str, ...]] = ("java",)

    @property
    def ports(self) -> tuple[int, ...]:
        """Client listener, then controller listener."""
        return (self.settings.kafka_port, self.settings.kafka_controller_port)

    def prepare(self, progress: Progress) -> Launch:
        """Fetch jars if missing, write configs, format the log dir once."""
        java = find_executable(self.settings.java)
        if java is None:
            raise StackError("kafka: java not found; install Java 17 (openjdk-17-jre-headless)")
        libs = ensure_jars(self.settings, progress)
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "server.properties").write_text(self.server_properties())
        (self.home / "log4j2.xml").write_text(render_template("kafka-log4j2.xml"))
        if not (self.home / "data" / "meta.properties").exists():
            progress("formatting Kafka storage")
            self._format(java, libs)
        argv = [java, *self._jvm_options(), "-cp", f"{libs}/*", MAIN_CLASS, "server.properties"]
        return Launch(argv=argv, cwd=self.home)

    def _jvm_options(self) -> list[str]:
        """Kafka's own G1 settings with a heap that fits a 2-core CI machine."""
        return [
            f"-Xmx{self.settings.kafka_heap}",
            "-Xms128m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:InitiatingHeapOccupancyPercent=35",
            "-XX:+ExplicitGCInvokesConcurrent",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.xml'}",
        ]

    def _format(self, java: str, libs: Path) -> None:
        """Write meta.properties and the bootstrap checkpoint (KRaft needs a formatted log dir)."""
        argv = [
            java, f"-Dlog4j2.configurationFile={self.home / 'log4j2.xml'}",
            "-cp", f"{libs}/*", STORAGE_TOOL, "format",
            "-t", self.cluster_id(), "-c", "server.properties", "--ignore-formatted",
        ]  # fmt: skip
        done = subprocess.run(argv, cwd=self.home, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            output = (done.stdout + done.stderr).strip()[-2000:]
            raise StackError(f"kafka: formatting {self.home / 'data'} failed:\n{output}")

    def server_properties(self) -> str:
        """server.properties of this node (one combined broker and controller)."""
        return server_properties(self.settings)

    def cluster_id(self) -> str:
        """A fresh KRaft cluster id: a single node formats alone."""
        return cluster_id()

    def is_ready(self) -> bool:
        """An unfenced broker is listed by the admin client and topics can be listed."""
        if not process.port_open(self.settings.host, self.ports[0]):
            return False
        brokers = describe_brokers(self.address, list_topics=True)
        return brokers is not None and any(not b.get("is_fenced") for b in brokers)


def _import_kafka_python() -> Any:
    """Import kafka-python late and quietly: 3.0 warns (DeprecationWarning, importlib.resources
    ``read_text``) at import time, which the project's pytest setting turns into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        # Late: only the readiness probe needs the client, and its import warns (above).
        import kafka
        import kafka.errors

    return kafka


def server_properties(settings: StackSettings) -> str:
    """server.properties for one combined node; defaults suited to tests on one machine."""
    host, port, ctl = settings.host, settings.kafka_port, settings.kafka_controller_port
    data = settings.root / "kafka" / "data"
    values = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{host}:{ctl}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{ctl}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data),
        "num.network.threads": "3",
        "num.io.threads": "4",
        **single_node_defaults(),
    }
    return properties_text(values)


def properties_text(values: dict[str, str]) -> str:
    """A .properties file body from ``values``."""
    lines = [f"{key}={value}" for key, value in values.items()]
    return "# generated by `consentstream up`; edits are overwritten\n" + "\n".join(lines) + "\n"


def single_node_defaults() -> dict[str, str]:
    """Internal topics with replication factor 1 and few partitions: one broker, quick tests."""
    return {
        "auto.create.topics.enable": "false",  # topics are created with their settings
        "num.partitions": "1",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "10",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        # After a kill -9 the old registration blocks the restarted broker until its session
        # expires (default 9 s); fault tests restart the broker, so expire it sooner.
        "broker.heartbeat.interval.ms": "1000",
        "broker.session.timeout.ms": "4500",
        "delete.topic.enable": "true",
    }


def cluster_id() -> str:
    """A KRaft cluster id as Kafka's ``Uuid.randomUuid`` makes it (never starting with '-')."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def ensure_jars(settings: StackSettings, progress: Progress) -> Path:
    """The cached Kafka jar folder, filled by mvn the first time."""
    return maven.ensure_jars(
        settings.kafka_cache_dir,
        marker="kafka_2.13-*.jar",
        pom=render_template("kafka-pom.xml", kafka_version=KAFKA_VERSION),
        mvn=settings.mvn,
        what=f"kafka {KAFKA_VERSION}",
        progress=progress,
    )


def describe_brokers(address: str, *, list_topics: bool = False) -> list[dict[str, Any]] | None:
    """The brokers the cluster at ``address`` reports (and, if asked, that topics list), or
    None when it does not answer: the readiness probe of a single node and of a cluster node."""
    kafka = _import_kafka_python()
    try:
        admin = kafka.KafkaAdminClient(
            bootstrap_servers=address,
            client_id="consentstream-stack-probe",
            request_timeout_ms=3000,
            bootstrap_timeout_ms=3000,
        )
        try:
            brokers: list[dict[str, Any]] = admin.describe_cluster().get("brokers") or []
            if list_topics:
                admin.list_topics()
        finally:
            admin.close()
    except (kafka.errors.KafkaError, OSError):
        return None
    return brokers
