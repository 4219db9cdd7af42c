"""The local stack really serves the clients the project uses (run ``consentstream up`` first).

kafka-python does admin work and Faust (through aiokafka) does stream work, against the same
KRaft broker; ``up`` must be a no-op on a running stack and ``status`` must see all three.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
import warnings
from pathlib import Path

import pytest
import redis

with warnings.catch_warnings():
    # kafka-python 3.0 calls the deprecated importlib.resources.read_text at import time.
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
    from kafka.admin import NewTopic

from ops import stack
from tests.e2e.processes import free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def settings() -> stack.StackSettings:
    """Settings of the running stack; fails clearly when ``consentstream up`` was not run."""
    current = stack.StackSettings()
    down = [s.name for s in stack.status(current) if s.state != "running"]
    if down:
        pytest.fail(f"stack not running ({', '.join(down)}); run `consentstream up` first")
    return current


@pytest.fixture
def bootstrap(settings: stack.StackSettings) -> str:
    return f"{settings.host}:{settings.kafka_port}"


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _consume_one(bootstrap: str, topic: str, timeout_ms: int) -> list[bytes]:
    """Every value of ``topic`` from the start, stopping after ``timeout_ms`` of silence."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=timeout_ms,
    )
    try:
        for record in consumer:
            return [record.value]
        return []
    finally:
        consumer.close()


def test_status_reports_all_three_running(settings: stack.StackSettings) -> None:
    states = {s.name: s.state for s in stack.status(settings)}
    assert states == {"redis": "running", "clickhouse": "running", "kafka": "running"}


def test_up_again_is_a_no_op(settings: stack.StackSettings) -> None:
    before = {s.name: s.pid for s in stack.status(settings)}
    cli = subprocess.run(
        [sys.executable, "-c", "from ops.cli import main; main()", "up"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert cli.stdout.count("already running") == 3, cli.stdout
    again = stack.up(settings=settings)
    assert {s.detail for s in again} == {"already running"}
    assert {s.name: s.pid for s in stack.status(settings)} == before


def test_kafka_python_admin_produce_consume(bootstrap: str) -> None:
    topic = _unique("stack-test-kp")
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        assert topic in admin.list_topics()
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    producer.send(topic, b"hello kafka 4").get(timeout=30)
    producer.close()
    assert _consume_one(bootstrap, topic, timeout_ms=15_000) == [b"hello kafka 4"]


FAUST_APP = textwrap.dedent(
    """
    import os

    import faust

    app = faust.App(
        os.environ["APP_ID"],
        broker="kafka://" + os.environ["BOOTSTRAP"],
        store="memory://",
        web_enabled=False,
        topic_replication_factor=1,
        topic_partitions=1,
    )
    source = app.topic(os.environ["IN_TOPIC"], value_serializer="raw")
    reply = app.topic(os.environ["OUT_TOPIC"], value_serializer="raw")


    @app.agent(source)
    async def echo(stream):
        async for value in stream:
            await reply.send(value=b"faust saw " + value)
    """
)


def test_faust_worker_consumes_and_replies(bootstrap: str, tmp_path: Path) -> None:
    in_topic, out_topic = _unique("stack-test-in"), _unique("stack-test-out")
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:  # the broker does not auto-create topics
        admin.create_topics([NewTopic(t, 1, 1) for t in (in_topic, out_topic)])
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    producer.send(in_topic, b"ping").get(timeout=30)
    producer.close()
    (tmp_path / "echo_app.py").write_text(FAUST_APP)
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "faust", "-A", "echo_app", "worker", "-l", "warn"],
            cwd=tmp_path,
            env={**os.environ, **_faust_env(bootstrap, in_topic, out_topic)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        got = _await_reply(bootstrap, out_topic, worker)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert got == [b"faust saw ping"], log.read_text()[-3000:]


def _faust_env(bootstrap: str, in_topic: str, out_topic: str) -> dict[str, str]:
    """A fresh app id (consumer group) per run, so the worker reads the topic from the start."""
    return {
        "APP_ID": _unique("stack-test-app"),
        "BOOTSTRAP": bootstrap,
        "IN_TOPIC": in_topic,
        "OUT_TOPIC": out_topic,
    }


def _await_reply(bootstrap: str, topic: str, worker: subprocess.Popen[bytes]) -> list[bytes]:
    """The worker's reply, polling while the worker lives (at most ~45 s)."""
    for _ in range(15):
        got = _consume_one(bootstrap, topic, timeout_ms=3_000)
        if got or worker.poll() is not None:
            return got
    return []


def test_single_service_restart_keeps_redis_data(
    settings: stack.StackSettings, tmp_path: Path
) -> None:
    """Fault tests bounce one service with stop()/start(); Redis state survives (AOF).

    The bounce is done on a Redis of the test's own (same code, its own port and directory):
    stopping the shared one would fail every test using it meanwhile, for as long as it takes
    to load its data again.
    """
    own = settings.model_copy(update={"stack_dir": tmp_path, "redis_port": free_port()})
    started = stack.start("redis", own)
    try:
        assert started.state == "running"
        key = _unique("stack-test-key")
        client = redis.Redis(host=own.host, port=own.redis_port)
        client.set(key, b"kept", ex=300)
        client.close()
        stopped = stack.stop("redis", own)
        assert stopped.state == "stopped"
        assert {s.name: s.state for s in stack.status(own)}["redis"] == "stopped"
        restarted = stack.start("redis", own)
        assert restarted.state == "running" and restarted.pid != stopped.pid
        client = redis.Redis(host=own.host, port=own.redis_port)
        try:
            assert client.get(key) == b"kept"
        finally:
            client.close()
    finally:
        stack.stop("redis", own)
