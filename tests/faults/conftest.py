"""A stack of its own for fault tests: they stop and restart Kafka, Redis and ClickHouse.

The shared stack (``consentstream up``) is never touched; these services run on free ports
from a temporary folder, shared by every fault module, and stopped when the run ends.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ops import stack
from ops.stack.config import StackSettings
from tests.e2e.processes import Pipeline, free_port, running_pipeline
from tests.isolation import isolated_env


@dataclass
class FaultRig:
    """The isolated stack, the pipeline on it, and the environment the processes got."""

    stack: StackSettings
    pipe: Pipeline
    env: dict[str, str]
    database: str


@pytest.fixture(scope="session")
def isolated_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackSettings]:
    settings = StackSettings(
        stack_dir=tmp_path_factory.mktemp("stack"),
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
        redis_port=free_port(),
        clickhouse_port=free_port(),
        clickhouse_http_port=free_port(),
        clickhouse_interserver_port=free_port(),
    )
    try:
        stack.up(settings=settings)
        yield settings
    finally:
        stack.down(settings=settings)


@pytest.fixture(scope="session")
def kafka_bootstrap(isolated_stack: StackSettings) -> str:
    """The brokers the pipeline bootstraps from (a module with several brokers overrides it)."""
    return f"{isolated_stack.host}:{isolated_stack.kafka_port}"


@pytest.fixture(scope="session")
def rig(
    isolated_stack: StackSettings, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FaultRig]:
    yield from build_rig(isolated_stack, kafka_bootstrap, tmp_path_factory)


def build_rig(
    s: StackSettings, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FaultRig]:
    """The pipeline on stack ``s``: shared by the session's rig and modules with a stack of
    their own (several brokers), which cannot use a session-scoped fixture."""
    run = isolated_env(
        "faults",
        f"clickhouse://{s.host}:{s.clickhouse_port}/",
        worker_data_dir=tmp_path_factory.mktemp("worker"),
        kafka_bootstrap=kafka_bootstrap,
        redis_url=f"redis://{s.host}:{s.redis_port}/0",
        trusted_proxies='["127.0.0.1/32"]',
        topic_partitions=2,
        produce_timeout_seconds=3,
        retry_after_seconds=1,
        sink_batch_size=500,
        pseudonym_key=f"faults-key-{secrets.token_hex(4)}",
        key_cache_seconds=0,
    )
    logs = Path(tmp_path_factory.mktemp("logs"))
    with running_pipeline(run.env, logs) as pipe:
        yield FaultRig(s, pipe, run.env, run.database)
