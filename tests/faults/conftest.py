"""A stack of its own for fault tests: they stop and restart Kafka, Redis and ClickHouse.

The shared stack (``consentstream up``) is never touched; these services run on free ports
from a temporary folder and are stopped when the module ends.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from consentstream import stack
from consentstream.stack.config import StackSettings
from tests.e2e.processes import Pipeline, free_port, running_pipeline

FIGURES = pytest.StashKey[list[str]]()
"""Each fault scenario's figures line, printed in the summary of the run."""


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """Print what every fault scenario sent, acknowledged and stored (issue 7)."""
    lines = config.stash.get(FIGURES, [])
    if lines:
        terminalreporter.section("fault scenarios")
        for line in lines:
            terminalreporter.write_line(line)


@dataclass
class FaultRig:
    """The isolated stack, the pipeline on it, and the environment the processes got."""

    stack: StackSettings
    pipe: Pipeline
    env: dict[str, str]
    database: str


@pytest.fixture(scope="module")
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


@pytest.fixture(scope="module")
def kafka_bootstrap(isolated_stack: StackSettings) -> str:
    """The brokers the pipeline bootstraps from (a module with several brokers overrides it)."""
    return f"{isolated_stack.host}:{isolated_stack.kafka_port}"


@pytest.fixture(scope="module")
def rig(
    isolated_stack: StackSettings, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FaultRig]:
    s = isolated_stack
    run = secrets.token_hex(4)
    database = f"cs_faults_{run}"
    env = {
        **os.environ,
        "CONSENTSTREAM_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "CONSENTSTREAM_REDIS_URL": f"redis://{s.host}:{s.redis_port}/0",
        "CONSENTSTREAM_CLICKHOUSE_URL": f"clickhouse://{s.host}:{s.clickhouse_port}/{database}",
        "CONSENTSTREAM_TOPIC_PREFIX": f"faults{run}.",
        "CONSENTSTREAM_WORKER_APP_ID": f"cs-faults-{run}",
        "CONSENTSTREAM_WORKER_DATA_DIR": str(tmp_path_factory.mktemp("worker")),
        "CONSENTSTREAM_TRUSTED_PROXIES": '["127.0.0.1/32"]',
        "CONSENTSTREAM_TOPIC_PARTITIONS": "2",
        "CONSENTSTREAM_PRODUCE_TIMEOUT_SECONDS": "3",
        "CONSENTSTREAM_RETRY_AFTER_SECONDS": "1",
        "CONSENTSTREAM_SINK_BATCH_SIZE": "500",
        "CONSENTSTREAM_PSEUDONYM_KEY": f"faults-key-{run}",
        "CONSENTSTREAM_KEY_CACHE_SECONDS": "0",
    }
    logs = Path(tmp_path_factory.mktemp("logs"))
    with running_pipeline(env, logs) as pipe:
        yield FaultRig(s, pipe, env, database)
